package dev.handoff.core.manifest;

import java.util.Map;

/**
 * A listening socket.
 *
 * @param name     the application's name for it
 * @param protocol TCP or UDP
 * @param family   INET or INET6
 * @param address  the local address as the kernel reports it (an IP literal)
 * @param port     the local port
 * @param fd       index of its descriptor among those sent with the manifest
 * @param options  socket options at the time of the handoff, for information
 */
public record ListenerEntry(String name, Protocol protocol, String family, String address, int port, int fd,
                            Map<String, String> options) {

    public enum Protocol { TCP, UDP }

    public ListenerEntry {
        options = options == null ? Map.of() : Map.copyOf(options);
    }
}
