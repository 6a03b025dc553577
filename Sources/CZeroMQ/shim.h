// libzmq (libzmq3-dev). Only the ZMQ target imports this module. No pkgConfig: its flags upset SwiftPM.
#include <zmq.h>
