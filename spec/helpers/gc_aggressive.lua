-- Loaded by `make test-gc` (busted --helper): the collector at its most aggressive, so that a
-- view, document or client that is kept alive only by accident is collected under the test.
collectgarbage("incremental", 0, 1000)   -- pause 0: a new cycle starts as soon as one ends
collectgarbage("restart")
