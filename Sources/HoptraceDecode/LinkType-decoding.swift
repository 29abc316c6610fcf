import HoptraceCapture

extension LinkType {
    /// The link types ``PacketDecoder`` decodes.
    public var isDecodable: Bool {
        switch self.rawValue {
        case LinkType.null.rawValue, LinkType.ethernet.rawValue, LinkType.raw.rawValue, 12, 14, LinkType.loop.rawValue,
            LinkType.linuxSLL.rawValue, LinkType.ipv4.rawValue, LinkType.ipv6.rawValue, LinkType.nflog.rawValue,
            LinkType.linuxSLL2.rawValue:
            return true
        default:
            return false
        }
    }

    /// The name in the tcpdump group's LINKTYPE_ registry (`USER0`, `IEEE802_11_RADIOTAP`), or nil if unknown here.
    package var registryName: String? {
        switch self.rawValue {
        case 0: return "NULL"
        case 1: return "ETHERNET"
        case 6: return "IEEE802_5"
        case 9: return "PPP"
        case 10: return "FDDI"
        case 12, 14, 101: return "RAW"
        case 50: return "PPP_HDLC"
        case 51: return "PPP_ETHER"
        case 104: return "C_HDLC"
        case 105: return "IEEE802_11"
        case 108: return "LOOP"
        case 113: return "LINUX_SLL"
        case 119: return "IEEE802_11_PRISM"
        case 127: return "IEEE802_11_RADIOTAP"
        case 147...162: return "USER\(self.rawValue - 147)"
        case 187: return "BLUETOOTH_HCI_H4"
        case 189: return "USB_LINUX"
        case 192: return "PPI"
        case 195: return "IEEE802_15_4_WITHFCS"
        case 201: return "BLUETOOTH_HCI_H4_WITH_PHDR"
        case 220: return "USB_LINUX_MMAPPED"
        case 228: return "IPV4"
        case 229: return "IPV6"
        case 239: return "NFLOG"
        case 249: return "NETLINK"
        case 276: return "LINUX_SLL2"
        default: return nil
        }
    }

    /// The one-line explanation for a link type hoptrace does not decode:
    /// `LINKTYPE 147 (USER0) is not supported; hoptrace decodes Ethernet, SLL, SLL2, raw IP, NULL/LOOP, NFLOG`.
    package var unsupportedReason: String {
        let name = self.registryName.map { " (\($0))" } ?? ""
        return "LINKTYPE \(self.rawValue)\(name) is not supported; hoptrace decodes Ethernet, SLL, SLL2, raw IP, "
            + "NULL/LOOP, NFLOG"
    }
}
