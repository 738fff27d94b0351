-- ocsp.lua: wrk script for bench/scale/run.sh. POSTs RFC 6960 requests (one CertID, no nonce)
-- whose serial is taken from a file of serials known to the store, in file order.
--   wrk ... -s ocsp.lua URL -- TEMPLATE.der SERIALS.txt COUNT
-- TEMPLATE.der is a request for the first serial of SERIALS.txt (all serials are 16 octets, so
-- the request is patched in place). COUNT distinct serials are used, cycled: 1,000 against a
-- cache of 20,000 is the cache-hit mix; 400,000 asked once each is the cache-miss mix. The
-- requests are built in init() so the measured loop only hands out prepared strings.
local reqs = {}
local n = 0
local i = 0

local function unhex(h)
    return (h:gsub("..", function(x) return string.char(tonumber(x, 16)) end))
end

function init(args)
    local f = assert(io.open(args[1], "rb"))
    local tmpl = f:read("*a")
    f:close()
    local want = tonumber(args[3])
    local first = nil
    local pre, post
    for line in io.lines(args[2]) do
        if first == nil then
            first = unhex(line)
            local at = tmpl:find(first, 1, true)
            assert(at, "the template does not hold the first serial")
            pre, post = tmpl:sub(1, at - 1), tmpl:sub(at + #first)
        end
        assert(#line == 32, "serials must be 16 octets")
        n = n + 1
        reqs[n] = wrk.format("POST", "/ocsp",
            { ["Content-Type"] = "application/ocsp-request" }, pre .. unhex(line) .. post)
        if n == want then
            break
        end
    end
    i = math.random(n) - 1
end

function request()
    i = i % n + 1
    return reqs[i]
end

function done(summary, latency, requests)
    local s = summary.duration / 1e6
    io.write(string.format("RESULT req_s=%.0f p50_us=%d p99_us=%d p999_us=%d max_us=%d " ..
        "non2xx=%d errors=%d requests=%d\n", summary.requests / s,
        latency:percentile(50), latency:percentile(99), latency:percentile(99.9), latency.max,
        summary.errors.status, summary.errors.connect + summary.errors.read +
        summary.errors.write + summary.errors.timeout, summary.requests))
end
