-- wrk script of bench/run's RSS figure: GETs of cached OCSP answers, round robin over the paths in
-- args[1] (one a line), and every 10th request a POST of the nonce request in args[2] (answered
-- with a fresh signature each time), so the server holds a full answer cache and signs meanwhile.
local paths, nonce, n = {}, nil, 0

function init(args)
    for line in io.lines(args[1]) do
        paths[#paths + 1] = line
    end
    local f = assert(io.open(args[2], "rb"))
    nonce = f:read("*a")
    f:close()
end

function request()
    n = n + 1
    if n % 10 == 0 then
        return wrk.format("POST", "/ocsp", { ["Content-Type"] = "application/ocsp-request" }, nonce)
    end
    return wrk.format("GET", paths[n % #paths + 1])
end
