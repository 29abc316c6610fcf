#ifndef HOPTRACE_CPCAP_SHIM_H
#define HOPTRACE_CPCAP_SHIM_H
#include <pcap/pcap.h>
#include <net/if.h>
#endif
