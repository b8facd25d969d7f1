package dev.handoff.spring.jetty;

import dev.handoff.core.Connection;
import dev.handoff.spring.MovableConnections;
import dev.handoff.spring.WebServerDrain;
import org.eclipse.jetty.io.AbstractConnection;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.io.ManagedSelector;
import org.eclipse.jetty.io.RetainableByteBuffer;
import org.eclipse.jetty.io.SocketChannelEndPoint;
import org.eclipse.jetty.io.ssl.SslConnection;
import org.eclipse.jetty.server.NegotiatingServerConnection;
import org.eclipse.jetty.server.ProxyConnectionFactory;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.Callback;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.lang.reflect.Field;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;

/**
 * The connections of a Jetty {@link ServerConnector} as they move. A released connection stays a Jetty
 * endpoint until it has moved (then Jetty closes what is left of it) or comes back (then it is registered
 * with its selector again): only its selection key goes, on the selector's own thread, because Jetty
 * closing a channel still registered would shut its output down for the successor too.
 */
final class JettyConnections implements MovableConnections {

    private static final Logger log = LoggerFactory.getLogger(JettyConnections.class);
    private static final String WEBSOCKET = "org.eclipse.jetty.websocket.core.WebSocketConnection";
    // The connection a PROXY connector reads the header with, and its buffer: private, but in jetty-server,
    // so looked up once. Null if this Jetty's differs: such connections then count as having begun.
    private static final Field DETECTOR_BUFFER = detectorBufferField();
    // What TLS has read and not handed on (its encrypted and decrypted input buffers), and how far its
    // handshake is: private.
    private static final List<Field> TLS_INPUT = tlsFields("_encryptedInput", "_decryptedInput");
    private static final Field TLS_HANDSHAKE = tlsFields("_handshake").stream().findFirst().orElse(null);

    private final ServerConnector connector;
    private final String listener;
    private final Map<Object, ByteBuffer> unread = new ConcurrentHashMap<>();
    private final Map<SocketChannel, Released> released = new ConcurrentHashMap<>();
    private final Set<EndPoint> goneAway = ConcurrentHashMap.newKeySet(); // HTTP/2: sent its GOAWAY; WebSocket: its Close
    private volatile Consumer<Connection> sink;

    JettyConnections(ServerConnector connector, String listener) {
        this.connector = connector;
        this.listener = listener;
    }

    @Override
    public String listener() {
        return listener;
    }

    boolean isReleasing() {
        return sink != null;
    }

    /** The bytes a connection adopted from the predecessor had read and not parsed, once. */
    ByteBuffer unreadOf(Object channel) {
        return unread.remove(channel);
    }

    @Override
    public void adopt(Connection connection) {
        SocketChannel channel = connection.channel();
        try {
            channel.configureBlocking(false);
            channel.socket().setTcpNoDelay(connector.getAcceptedTcpNoDelay());
            if (connection.unread().hasRemaining()) {
                unread.put(channel, connection.unread());
            }
            connector.getSelectorManager().accept(channel);
        } catch (IOException | RuntimeException e) {
            unread.remove(channel);
            log.warn("could not adopt the connection {}; closing it", channel, e);
            try {
                channel.close();
            } catch (IOException ignored) {
                // gone either way
            }
        }
    }

    @Override
    public void release(Consumer<Connection> to) {
        sink = to;
    }

    /**
     * Takes a quiet connection out of its selector, on the selector's thread; the connection goes to the
     * sink from there. False if it cannot be released (no longer releasing, or its selector is gone).
     */
    boolean release(HandoffHttpConnection connection) {
        Consumer<Connection> to = sink;
        SocketChannelEndPoint endPoint = (SocketChannelEndPoint) connection.getEndPoint();
        SocketChannel channel = endPoint.getChannel();
        ManagedSelector selector = selectorOf(channel);
        if (to == null || selector == null) {
            return false;
        }
        endPoint.setIdleTimeout(0); // Jetty must not close it while it moves
        Connection moving = new Connection(listener, channel);
        Released release = new Released(endPoint, selector, connection);
        released.put(channel, release);
        selector.submit(nioSelector -> {
            // The key update still due from the read event that brought it here is made now: one made on a
            // cancelled key would close the endpoint.
            endPoint.updateKey();
            SelectionKey key = channel.keyFor(nioSelector);
            if (key != null) {
                release.interestOps = key.isValid() ? key.interestOps() : 0;
                key.cancel(); // dropped at this selector's next select, which comes right after this update
            }
            to.accept(moving);
        });
        return true;
    }

    /**
     * Behind the PROXY protocol, a connection that has not sent the first byte of its header moves too (a
     * load balancer opens such connections ahead of its requests): the successor's connector, which begins
     * with the same factory, reads the header. Jetty reads it in a detecting connection of its own, taken
     * out of its selector here, on the selector's thread, only while it waits for bytes (reading interest
     * set: no read under way, and none can start on this thread) with none read. One whose header has begun
     * stays, and never moves.
     */
    private void releaseBeforeHeader(SocketChannelEndPoint endPoint, org.eclipse.jetty.io.Connection detector) {
        Consumer<Connection> to = sink;
        SocketChannel channel = endPoint.getChannel();
        ManagedSelector selector = selectorOf(channel);
        if (to == null || selector == null) {
            return;
        }
        selector.submit(nioSelector -> {
            SelectionKey key = keyWaitingToRead(endPoint, nioSelector);
            if (key == null || endPoint.getConnection() != detector || !awaitsProxyHeader(detector) || sink != to) {
                return; // reading, or read, or moving over: the next wake-up looks again
            }
            Released release = new Released(endPoint, selector, null);
            release.interestOps = key.interestOps();
            if (released.putIfAbsent(channel, release) != null) {
                return;
            }
            endPoint.setIdleTimeout(0);
            key.cancel();
            to.accept(new Connection(listener, channel));
        });
    }

    /**
     * On the selector's thread: the endpoint's key if it wants reading, so that no read is under way (Jetty's
     * selector clears that interest before it dispatches one) and none can start on this thread; else null.
     * The key update still due is made first, as in {@link #release(HandoffHttpConnection)}: none may come
     * due once the key is cancelled.
     */
    private static SelectionKey keyWaitingToRead(SocketChannelEndPoint endPoint, Selector selector) {
        endPoint.updateKey();
        SelectionKey key = endPoint.getChannel().keyFor(selector);
        return key != null && key.isValid() && (key.interestOps() & SelectionKey.OP_READ) != 0 ? key : null;
    }

    /**
     * Whether a connection is the one a PROXY protocol connector reads the header with, and has read none of
     * it yet: the detecting connection its first factory makes on the socket's own endpoint (a detector
     * after the header reads through the endpoint the header left), still able to write, with nothing in
     * its buffer (a private field; if it cannot be read, the header counts as begun).
     */
    private boolean awaitsProxyHeader(org.eclipse.jetty.io.Connection connection) {
        return isProxyDetector(connection)
                && connection.getEndPoint() instanceof SocketChannelEndPoint endPoint && !endPoint.isOutputShutdown()
                && !detectorBuffer(connection).hasRemaining();
    }

    /** Whether a connection is the detecting one of this connector's PROXY protocol factory. */
    private boolean isProxyDetector(org.eclipse.jetty.io.Connection connection) {
        return DETECTOR_BUFFER != null && connection != null && connection.getClass() == DETECTOR_BUFFER.getDeclaringClass()
                && connector.getDefaultConnectionFactory() instanceof ProxyConnectionFactory;
    }

    private static RetainableByteBuffer detectorBuffer(org.eclipse.jetty.io.Connection detector) {
        try {
            return (RetainableByteBuffer) DETECTOR_BUFFER.get(detector);
        } catch (IllegalAccessException e) {
            throw new IllegalStateException(e); // made accessible when looked up
        }
    }

    private static Field detectorBufferField() {
        try {
            Field buffer = Class.forName("org.eclipse.jetty.server.DetectorConnectionFactory$DetectorConnection")
                    .getDeclaredField("_buffer");
            buffer.setAccessible(true);
            return RetainableByteBuffer.class.isAssignableFrom(buffer.getType()) ? buffer : null;
        } catch (ReflectiveOperationException | RuntimeException e) {
            log.warn("this Jetty's PROXY protocol connection is not the one Handoff knows: connections that have not "
                    + "sent their header yet stay with the old process", e);
            return null;
        }
    }

    @Override
    public void moved(Connection connection) {
        Released gone = released.remove(connection.channel());
        if (gone != null) {
            org.eclipse.jetty.io.Connection left = gone.endPoint.getConnection();
            gone.endPoint.close(); // its channel is closed already: Jetty only forgets it
            if (gone.connection == null && isProxyDetector(left)) {
                try {
                    detectorBuffer(left).release(); // Jetty releases it only once it has read
                } catch (RuntimeException e) {
                    log.debug("could not release the PROXY header buffer of {}", left, e);
                }
            }
        }
    }

    @Override
    public void giveBack(Connection connection) {
        Released back = released.remove(connection.channel());
        if (back == null) {
            adopt(connection);
            return;
        }
        back.selector.submit(nioSelector -> {
            try {
                // With the interest the endpoint believes its key has: a wake-up released it with reading
                // still wanted (a read event clears that), and a key registered without it would never read.
                back.endPoint.replaceKey(connection.channel().register(nioSelector, back.interestOps, back.endPoint));
                back.endPoint.setIdleTimeout(connector.getIdleTimeout());
                if (back.connection != null) {
                    back.connection.fillInterested();
                }
            } catch (ClosedChannelException | RuntimeException e) {
                log.warn("could not serve {} again; closing it", connection.channel(), e);
                back.endPoint.close();
            }
        });
    }

    @Override
    public void wakeIdle() {
        for (EndPoint endPoint : connector.getConnectedEndPoints()) {
            if (endPoint instanceof SocketChannelEndPoint socket && awaitsProxyHeader(endPoint.getConnection())
                    && !released.containsKey(socket.getChannel())) {
                releaseBeforeHeader(socket, endPoint.getConnection());
                continue;
            }
            if (endPoint.getConnection() instanceof HandoffHttpConnection connection && connection.isQuiet()
                    && endPoint instanceof SocketChannelEndPoint socket && !released.containsKey(socket.getChannel())) {
                // Whoever wins the fill interest runs onFillable: this wake-up or a read event, never both.
                try {
                    connector.getExecutor().execute(() -> socket.getFillInterest().fillable());
                } catch (RejectedExecutionException full) {
                    return; // a bounded queue is full: the next wake-up tries again
                }
            }
        }
    }

    @Override
    public void keep() {
        sink = null;
    }

    @Override
    public Map<String, Integer> unmovable() {
        Map<String, Integer> reasons = new TreeMap<>();
        for (EndPoint endPoint : connector.getConnectedEndPoints()) {
            org.eclipse.jetty.io.Connection connection = endPoint.getConnection();
            if (connection instanceof HandoffHttpConnection http ? !http.canMove() : connection != null && !awaitsProxyHeader(connection)) {
                reasons.merge(kindOf(connection), 1, Integer::sum);
            }
        }
        return reasons;
    }

    /**
     * HTTP/2 sessions shut down gracefully (both GOAWAYs; streams under way finish); at a later call, one
     * with no stream left is closed: Jetty would wait for the client's own GOAWAY or its idle timeout.
     * WebSocket sessions (over TLS too) are told the server goes away, once, and close when their clients
     * answer. Jetty's HTTP/2 and WebSocket classes are optional, so a session is reached by name: an
     * HTTP/2 one through its public methods, a WebSocket one through its connection's private field (the
     * connection has no getter for it).
     */
    @Override
    public void closeUnmovable() {
        for (EndPoint endPoint : connector.getConnectedEndPoints()) {
            org.eclipse.jetty.io.Connection connection = endPoint.getConnection();
            org.eclipse.jetty.io.Connection decrypted = connection instanceof SslConnection ssl
                    ? ssl.getSslEndPoint().getConnection() : connection;
            if (decrypted != null && decrypted.getClass().getName().equals(WEBSOCKET)) {
                if (goneAway.add(endPoint)) {
                    goAway(endPoint, decrypted);
                }
            } else if (connection != null && kindOf(connection).equals("http2")) {
                try {
                    Object session = connection.getClass().getMethod("getSession").invoke(connection);
                    if (goneAway.add(endPoint)) {
                        session.getClass().getMethod("shutdown").invoke(session);
                    } else if (((Collection<?>) session.getClass().getMethod("getStreams").invoke(session)).isEmpty()) {
                        endPoint.close(); // its final GOAWAY went out at the call before
                    }
                } catch (ReflectiveOperationException | RuntimeException e) {
                    log.debug("could not shut {} down gracefully", connection, e);
                }
            }
        }
    }

    @Override
    public int idleConnections() {
        int idle = 0;
        for (EndPoint endPoint : connector.getConnectedEndPoints()) {
            if (idleEnd(endPoint) != null) {
                idle++;
            }
        }
        return idle;
    }

    /**
     * Closes each idle one on its selector's thread, where no read can begin meanwhile, only while its key
     * wants reading, its endpoint waits to be filled, and nothing has come in from its client since. Over TLS
     * the close sends a close_notify first. (A wake-up takes the fill interest and reads on the executor while
     * the key still wants reading: that one is left alone.)
     */
    @Override
    public void closeIdleConnections() {
        for (EndPoint endPoint : connector.getConnectedEndPoints()) {
            ManagedSelector selector;
            if (endPoint instanceof SocketChannelEndPoint socket && idleEnd(endPoint) != null
                    && (selector = selectorOf(socket.getChannel())) != null) {
                selector.submit(nioSelector -> {
                    EndPoint idle = idleEnd(socket);
                    if (idle != null && keyWaitingToRead(socket, nioSelector) != null && socket.isFillInterested()
                            && MovableConnections.nothingToRead(socket.getChannel())) {
                        idle.close();
                    }
                });
            }
        }
    }

    /**
     * The endpoint to close of an idle connection on a socket's endpoint, else null: an HTTP/1.1 one's (see
     * {@link #idleHttp}), or the socket's own where a PROXY protocol connection has read none of its header
     * (one that went back from a successor that did not take it), or where a TLS connection that negotiates
     * its protocol (ALPN, with HTTP/2 on) has read nothing: idle as an HTTP/1.1 one before its handshake is.
     */
    private EndPoint idleEnd(EndPoint endPoint) {
        org.eclipse.jetty.io.Connection connection = endPoint.getConnection();
        if (awaitsProxyHeader(connection) || connection instanceof SslConnection ssl && handshakeNotBegun(ssl)
                && ssl.getSslEndPoint().getConnection() instanceof NegotiatingServerConnection) {
            return endPoint;
        }
        HandoffHttpConnection http = idleHttp(endPoint);
        return http == null ? null : http.getEndPoint();
    }

    /**
     * The HTTP/1.1 connection on a socket's endpoint (its own, TLS's, or the one a PROXY header left) if it
     * is idle, with nothing held by TLS either (part of a record, or decrypted bytes not yet
     * read); else null. Its TLS handshake done, or not begun (a client that connected and has sent nothing
     * yet, which waits as an idle one does; Jetty puts the HTTP/1.1 connection on TLS's endpoint before the
     * handshake); not one under way, whose close fails a handshake that clients seldom retry.
     */
    private static HandoffHttpConnection idleHttp(EndPoint endPoint) {
        org.eclipse.jetty.io.Connection connection = endPoint.getConnection();
        if (connection instanceof SslConnection ssl) {
            if (!handshakeNotUnderWay(ssl) || tlsHolds(ssl)) {
                return null;
            }
            connection = ssl.getSslEndPoint().getConnection();
        }
        return connection instanceof HandoffHttpConnection http && http.isIdle() ? http : null;
    }

    /**
     * Whether TLS's handshake is not begun (see {@link #handshakeNotBegun}) or has succeeded (a private
     * field; if it cannot be read, the handshake counts as under way).
     */
    private static boolean handshakeNotUnderWay(SslConnection ssl) {
        if (handshakeNotBegun(ssl)) {
            return true;
        }
        try {
            return TLS_HANDSHAKE != null && TLS_HANDSHAKE.get(ssl) instanceof AtomicReference<?> state
                    && String.valueOf(state.get()).equals("SUCCEEDED");
        } catch (IllegalAccessException | RuntimeException e) {
            return false;
        }
    }

    /**
     * Nothing has come from the client and nothing gone to it. Bytes that came behind a PROXY protocol header
     * are handed to TLS without being counted in: those are held (a hello, or part of one), or answered.
     */
    private static boolean handshakeNotBegun(SslConnection ssl) {
        return ssl.getBytesIn() == 0 && ssl.getBytesOut() == 0 && !tlsHolds(ssl);
    }

    /** Whether TLS holds bytes of the client's (private fields; if they cannot be read, it counts as holding some). */
    private static boolean tlsHolds(SslConnection ssl) {
        if (TLS_INPUT.isEmpty()) {
            return true;
        }
        try {
            for (Field input : TLS_INPUT) {
                if (input.get(ssl) instanceof RetainableByteBuffer held && held.hasRemaining()) {
                    return true;
                }
            }
            return false;
        } catch (IllegalAccessException | RuntimeException e) {
            return true;
        }
    }

    private static List<Field> tlsFields(String... names) {
        try {
            List<Field> fields = new ArrayList<>();
            for (String name : names) {
                Field field = SslConnection.class.getDeclaredField(name);
                field.setAccessible(true);
                fields.add(field);
            }
            return List.copyOf(fields);
        } catch (ReflectiveOperationException | RuntimeException e) {
            log.warn("this Jetty's TLS connection is not the one Handoff knows: idle TLS connections are closed at the "
                    + "drain's deadline", e);
            return List.of();
        }
    }

    /** A close that fails (one just upgraded, whose session is not open yet) is tried again at the next call. */
    private void goAway(EndPoint endPoint, org.eclipse.jetty.io.Connection webSocket) {
        Callback retry = Callback.from(() -> { }, failure -> goneAway.remove(endPoint));
        try {
            Field field = webSocket.getClass().getDeclaredField("coreSession");
            field.setAccessible(true);
            Object session = field.get(webSocket);
            session.getClass().getMethod("close", int.class, String.class, Callback.class)
                    .invoke(session, WebServerDrain.GOING_AWAY, WebServerDrain.GOING_AWAY_REASON, retry);
        } catch (ReflectiveOperationException | RuntimeException e) {
            log.debug("could not tell the client of {} the server goes away", webSocket, e);
        }
    }

    /**
     * Why a connection on a socket's endpoint never moves. An HTTP/1.1 one there that cannot move reads
     * through the endpoint a PROXY protocol header left (TLS would put its own connection there); a
     * detecting one there has begun to read that header.
     */
    private String kindOf(org.eclipse.jetty.io.Connection connection) {
        if (connection instanceof HandoffHttpConnection || isProxyDetector(connection)) {
            return "proxy";
        }
        String type = connection.getClass().getSimpleName().toLowerCase(Locale.ROOT);
        return type.contains("ssl") ? "tls" : type.contains("http2") ? "http2" : type.contains("proxy") ? "proxy" : "upgraded";
    }

    private ManagedSelector selectorOf(SocketChannel channel) {
        for (ManagedSelector selector : connector.getSelectorManager().getBeans(ManagedSelector.class)) {
            if (selector.getSelector() != null && channel.keyFor(selector.getSelector()) != null) {
                return selector;
            }
        }
        return null;
    }

    /**
     * A connection on its way out, and its key's interest as it was cancelled (set and read on its selector's
     * thread). {@code connection}: the one to make interested in reading again if it comes back; null when
     * it still is (one waiting for a PROXY header).
     */
    private static final class Released {
        final SocketChannelEndPoint endPoint;
        final ManagedSelector selector;
        final AbstractConnection connection;
        int interestOps;

        Released(SocketChannelEndPoint endPoint, ManagedSelector selector, AbstractConnection connection) {
            this.endPoint = endPoint;
            this.selector = selector;
            this.connection = connection;
        }
    }
}
