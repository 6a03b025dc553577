// libzmq (libzmq3-dev). Only the ZMQ target imports this module (and bench/Forwarder, the raw-libzmq baseline). No pkgConfig: its flags upset SwiftPM.
#include <zmq.h>
