package dev.handoff.core.service;

import org.newsclub.net.unix.AFUNIXDatagramChannel;
import org.newsclub.net.unix.AFUNIXSocketAddress;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * systemd's notify protocol ({@code sd_notify}): one datagram of {@code KEY=value} lines to the socket
 * named by {@code $NOTIFY_SOCKET} (a path, or {@code @name} in the abstract namespace). Without that
 * variable, nothing is sent: the process does not run under a {@code Type=notify} unit.
 */
public final class SystemdNotifier {

    private final String socket;

    private SystemdNotifier(String socket) {
        this.socket = socket;
    }

    /** The notifier for this process's environment (inactive when {@code NOTIFY_SOCKET} is unset). */
    public static SystemdNotifier fromEnvironment() {
        String socket = System.getenv("NOTIFY_SOCKET");
        return new SystemdNotifier(socket == null || socket.isEmpty() ? null : socket);
    }

    public boolean isActive() {
        return socket != null;
    }

    /** Sends {@code state} (e.g. {@code "READY=1\nMAINPID=42"}); returns false when not under systemd. */
    public boolean notify(String state) throws IOException {
        if (socket == null) {
            return false;
        }
        AFUNIXSocketAddress address = socket.startsWith("@")
                ? AFUNIXSocketAddress.inAbstractNamespace(socket.substring(1))
                : AFUNIXSocketAddress.of(Path.of(socket));
        try (AFUNIXDatagramChannel channel = AFUNIXDatagramChannel.open()) {
            channel.send(ByteBuffer.wrap(state.getBytes(StandardCharsets.UTF_8)), address);
        }
        return true;
    }
}
