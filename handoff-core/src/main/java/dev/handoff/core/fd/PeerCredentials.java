package dev.handoff.core.fd;

/** Who is at the other end of a Unix domain socket, as the kernel reports it (SO_PEERCRED). */
public record PeerCredentials(long pid, long uid, long gid) {
}
