package dev.handoff.core.fd;

/** What a file descriptor refers to. */
public enum FdType {
    TCP_LISTENER,
    TCP_CONNECTION,
    UDP,
    UNIX_SOCKET,
    OTHER_SOCKET,
    FILE,
    PIPE,
    OTHER
}
