-- wrk script for bench/ocsp/run.sh: POSTs the same OCSP request (a file) every time.
--   wrk -s post.lua URL -- REQUEST.der
function init(args)
    local f = assert(io.open(args[1], "rb"))
    wrk.body = f:read("*all")
    f:close()
    wrk.method = "POST"
    wrk.headers["Content-Type"] = "application/ocsp-request"
end
