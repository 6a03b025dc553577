// Debian's libsnappy C API (snappy-c.h): block-format compression for Prometheus remote write.
#include <snappy-c.h>
