package dev.handoff.core.manifest;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * An established TCP connection, handed over between two requests.
 *
 * @param listener      the name of the listener that accepted it (the application's protocol hint)
 * @param fd            index of its descriptor among those sent with the batch
 * @param localAddress  the local address (an IP literal) and {@code localPort}, as the incumbent saw them
 * @param remoteAddress the peer's address (an IP literal) and {@code remotePort}
 * @param attachment    the application's state for this connection, or null
 * @param unread        bytes the incumbent read from the socket but did not consume (base64 in JSON)
 */
public record ConnectionEntry(String listener, int fd, String localAddress, int localPort, String remoteAddress,
                             int remotePort, JsonNode attachment, byte[] unread) {

    public ConnectionEntry {
        unread = unread == null ? new byte[0] : unread;
    }

    /** The same connection at descriptor index {@code index} of a batch. */
    public ConnectionEntry atFd(int index) {
        return new ConnectionEntry(listener, index, localAddress, localPort, remoteAddress, remotePort, attachment, unread);
    }
}
