-- wrk script for bench/ocsp/run.sh: POSTs an OCSP request with a fresh nonce every time.
--   wrk -s nonce.lua URL -- REQUEST.der
-- REQUEST.der comes from `openssl ocsp -reqout` (with its default 16-octet nonce); the nonce is
-- the last 16 octets of the DER (requestExtensions end the TBSRequest, no signature follows), so
-- each request replaces them with this thread's id and a counter. Every answer is checked: HTTP
-- 200 and longer than the 5-octet status-only answers (malformedRequest etc.).
local prefix, counter, id = nil, 0, 0
bad = 0 -- a global: done() reads it from each thread with thread:get
local threads = {}
local next_id = 0

function setup(thread)
    next_id = next_id + 1
    thread:set("id", next_id)
    table.insert(threads, thread)
end

function init(args)
    local f = assert(io.open(args[1], "rb"))
    local der = f:read("*all")
    f:close()
    assert(#der > 16 and der:sub(-18, -17) == "\4\16", "the request must end with a 16-octet nonce")
    prefix = der:sub(1, -17)
    id = wrk.thread:get("id") or 0
    wrk.method = "POST"
    wrk.headers["Content-Type"] = "application/ocsp-request"
end

local function be32(n)
    return string.char(math.floor(n / 16777216) % 256, math.floor(n / 65536) % 256,
                       math.floor(n / 256) % 256, n % 256)
end

function request()
    counter = counter + 1
    local nonce = "ztca" .. be32(id) .. be32(math.floor(counter / 4294967296)) .. be32(counter)
    return wrk.format(nil, nil, nil, prefix .. nonce)
end

function response(status, headers, body)
    if status ~= 200 or #body < 100 then
        bad = bad + 1
    end
end

function done(summary, latency, requests)
    local total = 0
    for _, t in ipairs(threads) do
        total = total + (t:get("bad") or 0)
    end
    io.write(string.format("nonce_bad_answers %d\n", total))
end
