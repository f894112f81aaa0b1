-- report.lua - makes wrk print one machine-readable line at the end of a
-- run, so that bench.py never has to parse wrk's human units ("1.23ms",
-- "45.6k"). Latencies are in microseconds.
--
--   wrk -s labs/06-concurrency/bench/report.lua ... URL

function done(summary, latency, requests)
	local e = summary.errors
	io.write(string.format(
		"BENCH requests=%d duration_us=%d bytes=%d p50_us=%d p99_us=%d " ..
		"max_us=%d connect=%d read=%d write=%d status=%d timeout=%d\n",
		summary.requests, summary.duration, summary.bytes,
		latency:percentile(50), latency:percentile(99), latency.max,
		e.connect, e.read, e.write, e.status, e.timeout))
end
