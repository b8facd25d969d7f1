package dev.handoff.core.fd;

import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;

/**
 * What the kernel says about a file descriptor: its type, and for IP sockets the address family and the
 * local address. {@code family} and {@code localAddress} are null for anything that is not an IP socket;
 * {@code remoteAddress} is known only for a connection described by {@link FdInspector#describeConnection},
 * which leaves out its {@code localAddress}.
 */
public record FdDescription(FdType type, StandardProtocolFamily family, InetSocketAddress localAddress,
                            InetSocketAddress remoteAddress, String target) {

    public FdDescription(FdType type, StandardProtocolFamily family, InetSocketAddress localAddress, String target) {
        this(type, family, localAddress, null, target);
    }

    public boolean isInetSocket() {
        return family == StandardProtocolFamily.INET || family == StandardProtocolFamily.INET6;
    }

    @Override
    public String toString() {
        if (!isInetSocket()) {
            return type + " " + target;
        }
        return type + " " + family + (localAddress == null ? "" : " " + localAddress)
                + (remoteAddress == null ? "" : " to " + remoteAddress);
    }
}
