package dev.handoff.core.fd;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Who is at the other end of a Unix domain socket, as the kernel reports it (SO_PEERCRED). */
public record PeerCredentials(long pid, long uid, long gid) {

    /** The uid this process runs as. */
    public static long ownUid() {
        try {
            return ((Number) Files.getAttribute(Path.of("/proc/self"), "unix:uid")).longValue();
        } catch (IOException e) {
            throw new IllegalStateException("cannot read this process's uid from /proc/self", e);
        }
    }
}
