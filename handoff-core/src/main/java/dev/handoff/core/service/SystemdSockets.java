package dev.handoff.core.service;

import dev.handoff.core.internal.JdkInternals;

import java.io.FileDescriptor;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Sockets passed by systemd socket activation: {@code LISTEN_FDS} descriptors from 3 up, for this
 * process only ({@code LISTEN_PID}), named by {@code LISTEN_FDNAMES} (colon-separated; a socket
 * without a name is called {@code unknown}, as systemd does).
 */
public final class SystemdSockets {

    private static final int FIRST_FD = 3;

    private SystemdSockets() {
    }

    /** The passed sockets by name (an empty map when none were passed to this process). */
    public static Map<String, FileDescriptor> fromEnvironment() {
        return parse(System.getenv("LISTEN_PID"), System.getenv("LISTEN_FDS"), System.getenv("LISTEN_FDNAMES"),
                ProcessHandle.current().pid());
    }

    static Map<String, FileDescriptor> parse(String listenPid, String listenFds, String names, long ownPid) {
        Map<String, FileDescriptor> sockets = new LinkedHashMap<>();
        if (listenPid == null || listenFds == null) {
            return sockets;
        }
        int count;
        try {
            if (Long.parseLong(listenPid.trim()) != ownPid) {
                return sockets; // meant for another process (an ancestor that exec'd us without clearing it)
            }
            count = Integer.parseInt(listenFds.trim());
        } catch (NumberFormatException e) {
            return sockets;
        }
        String[] fdNames = names == null || names.isEmpty() ? new String[0] : names.split(":", -1);
        for (int i = 0; i < count; i++) {
            String name = i < fdNames.length && !fdNames[i].isEmpty() ? fdNames[i] : "unknown";
            sockets.putIfAbsent(name, JdkInternals.fileDescriptor(FIRST_FD + i));
        }
        return sockets;
    }
}
