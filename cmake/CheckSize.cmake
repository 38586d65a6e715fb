# cmake -DFILE=<file> -DMAX_BYTES=<n> -P CheckSize.cmake: fails when FILE is
# larger than MAX_BYTES (the Omega2's flash budget for owb-device, checked by
# the omega2 build's tests; docs/performance.md, "Device footprint").
file(SIZE "${FILE}" size)
math(EXPR room "${MAX_BYTES} - ${size}")
if(room LESS 0)
  math(EXPR over "0 - ${room}")
  message(FATAL_ERROR "${FILE}: ${size} bytes, ${over} over its budget of ${MAX_BYTES}")
endif()
message(STATUS "${FILE}: ${size} bytes, ${room} under its budget of ${MAX_BYTES}")
