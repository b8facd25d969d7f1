package dev.handoff.core.fd;

import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;

/**
 * What the kernel says about a file descriptor: its type, and for IP sockets the address family and the
 * local address. {@code family} and {@code localAddress} are null for anything that is not an IP socket.
 */
public record FdDescription(FdType type, StandardProtocolFamily family, InetSocketAddress localAddress, String target) {

    public boolean isInetSocket() {
        return family == StandardProtocolFamily.INET || family == StandardProtocolFamily.INET6;
    }

    @Override
    public String toString() {
        return isInetSocket() ? type + " " + family + " " + localAddress : type + " " + target;
    }
}
