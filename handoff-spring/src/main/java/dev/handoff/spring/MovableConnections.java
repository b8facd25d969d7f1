package dev.handoff.spring;

import dev.handoff.core.Connection;
import dev.handoff.core.Handoff;

import java.io.IOException;
import java.nio.channels.SocketChannel;
import java.util.Map;
import java.util.function.Consumer;

/**
 * An embedded server's established connections as they move between generations: the successor's server
 * {@linkplain #adopt adopts} each as if it had just accepted it, and the incumbent's server
 * {@linkplain #release releases} each at its quiet point (no request in flight, nothing left to write),
 * with the bytes it had read but not parsed. Each server's configuration supplies one.
 */
public interface MovableConnections {

    /** The listener whose connections these are, as the {@link Handoff} names it. */
    String listener();

    /**
     * Serves a connection the predecessor handed over as if this server had just accepted it: its unread
     * bytes are parsed before anything read from the socket. Called on a handoff thread.
     */
    void adopt(Connection connection);

    /**
     * From now on, each connection that reaches its quiet point leaves the server (which forgets it without
     * closing it) and goes to {@code sink}, deregistered from every selector or about to be: wait for
     * {@code !channel().isRegistered()} before handing it over. It reaches the sink before the server's
     * count of open connections lets it go, so that a drain never sees neither.
     */
    void release(Consumer<Connection> sink);

    /**
     * A released connection has moved (this process's descriptor of it is closed): the server drops what it
     * kept of it. Nothing by default, for servers that forget a connection when they release it.
     */
    default void moved(Connection connection) {
    }

    /** A released connection the successor did not take: the server serves it again, by default adopting it. */
    default void giveBack(Connection connection) {
        adopt(connection);
    }

    /** Brings idle connections to their quiet point now, rather than when their clients next speak. */
    void wakeIdle();

    /** Stops releasing: the connections still here stay and are served (and closed) as before. */
    void keep();

    /**
     * Connections open here that can never move, by reason ({@code tls}, {@code http2}, {@code upgraded});
     * not those that wait for a request to end.
     */
    Map<String, Integer> unmovable();

    /**
     * Ends the connections that cannot move gracefully where their protocol can: HTTP/2 ones get a GOAWAY
     * that names the last stream this process answers, and close once no stream is under way on them (a
     * client need not close them itself); WebSocket ones get a Close frame saying
     * {@value WebServerDrain#GOING_AWAY} (going away), once. Called again while the drain waits, to close
     * those whose streams have ended since. The others close after their next answer or at shutdown.
     */
    void closeUnmovable();

    /**
     * How many HTTP/1.x connections are idle now: no request under way or begun, nothing left to write, and
     * over TLS the handshake done or not begun (the client has sent nothing). The drain asks once moving is
     * over, when every connection still open stays here: it can never move ({@code tls}, {@code proxy}), or
     * the successor did not take it. A count for the drain to decide by; the close checks each again.
     */
    int idleConnections();

    /**
     * Closes the idle HTTP/1.x connections, each only if still idle, with nothing come in from its client, at
     * the instant it is closed; the way the server's keep-alive timeout closes them (over TLS with a
     * close_notify). Called once moving is over and they have been all that keeps the drain going for a
     * grace ({@code handoff.idle-close-grace}): no answer is left to tell their clients to close, and they
     * would be closed the same way at the deadline.
     */
    void closeIdleConnections();

    /**
     * Whether nothing has come in on a connection that its server has not read (the kernel's count of bytes
     * waiting): a request whose first bytes have arrived is not idle. A failure counts as something, so
     * that a connection in doubt is never closed as idle.
     */
    static boolean nothingToRead(SocketChannel channel) {
        try {
            return channel.socket().getInputStream().available() == 0; // FIONREAD, whatever the blocking mode
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }
}
