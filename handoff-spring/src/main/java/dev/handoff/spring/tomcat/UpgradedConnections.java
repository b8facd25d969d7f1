package dev.handoff.spring.tomcat;

import dev.handoff.spring.WebServerDrain;
import jakarta.websocket.CloseReason;
import org.apache.coyote.http11.upgrade.UpgradeProcessorBase;
import org.apache.coyote.http11.upgrade.UpgradeProcessorInternal;
import org.apache.tomcat.websocket.WsSession;
import org.apache.tomcat.websocket.server.WsHttpUpgradeHandler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.lang.reflect.Field;
import java.util.Map;

/**
 * What an upgraded Tomcat connection is, and whether an HTTP/2 one still works on a stream. Tomcat keeps
 * both out of reach: an upgrade's handler is private to its processor, and the HTTP/2 handler's class and
 * its map of streams are package-private. The processor's class alone cannot tell: WebSocket is an
 * internal upgrade too, whose handler keeps its session private.
 */
final class UpgradedConnections {

    private static final Field HANDLER;
    private static final Class<?> HTTP2;
    private static final Field STREAMS;
    private static final String WEBSOCKET = "org.apache.tomcat.websocket.server.WsHttpUpgradeHandler";
    private static final Logger log = LoggerFactory.getLogger(UpgradedConnections.class);
    private static volatile boolean webSocketsUnknown;

    static {
        try {
            HANDLER = UpgradeProcessorInternal.class.getDeclaredField("internalHttpUpgradeHandler");
            HANDLER.setAccessible(true);
            HTTP2 = Class.forName("org.apache.coyote.http2.Http2UpgradeHandler");
            STREAMS = HTTP2.getDeclaredField("streams");
            STREAMS.setAccessible(true);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError("this Tomcat's upgrade or HTTP/2 handler is not the one Handoff knows: " + e);
        }
    }

    private UpgradedConnections() {
    }

    /** "http2", "upgraded" (WebSocket and any other upgrade) or null for a connection that is not upgraded. */
    static String kind(Object processor) {
        if (http2(processor) != null) {
            return "http2";
        }
        return processor instanceof UpgradeProcessorBase ? "upgraded" : null;
    }

    /** The HTTP/2 handler behind a connection's processor, or null if it is not an HTTP/2 one. */
    static Object http2(Object processor) {
        if (!(processor instanceof UpgradeProcessorInternal)) {
            return null;
        }
        Object handler = read(HANDLER, processor);
        return HTTP2.isInstance(handler) ? handler : null;
    }

    /** The WebSocket session behind a connection's processor, or null if it is not a WebSocket (or not open yet). */
    static Object webSocket(Object processor) {
        if (!(processor instanceof UpgradeProcessorInternal)) {
            return null;
        }
        Object handler = read(HANDLER, processor);
        // By name: Tomcat's WebSocket jar may be left out, and then no connection is one.
        if (handler == null || !handler.getClass().getName().equals(WEBSOCKET) || webSocketsUnknown) {
            return null;
        }
        try {
            return WebSocketSessions.of(handler);
        } catch (LinkageError e) { // its handler is not the one Handoff knows: such connections close by themselves
            webSocketsUnknown = true;
            log.warn("WebSocket connections will not be told the server goes away", e);
            return null;
        }
    }

    /**
     * Tells a WebSocket's client the server goes away: a Close frame, written after any message being sent,
     * on the calling thread (which waits while the client does not read). A session already closing is left
     * as it is.
     */
    static void goAway(Object webSocket) throws IOException {
        WebSocketSessions.goAway(webSocket);
    }

    /**
     * Whether every stream the connection opened is done with: Tomcat puts a RecycledStream in a stream's
     * place once its processor has returned, so after the last byte of its response was written. (The
     * count of active streams drops earlier, before the final DATA frame goes out.)
     */
    static boolean streamsDone(Object http2) {
        for (Object stream : ((Map<?, ?>) read(STREAMS, http2)).values()) {
            if (!stream.getClass().getSimpleName().equals("RecycledStream")) {
                return false;
            }
        }
        return true;
    }

    private static final class WebSocketSessions {
        private static final Field SESSION;

        static {
            try {
                SESSION = WsHttpUpgradeHandler.class.getDeclaredField("wsSession");
                SESSION.setAccessible(true);
            } catch (ReflectiveOperationException e) {
                throw new ExceptionInInitializerError("this Tomcat's WebSocket handler is not the one Handoff knows: " + e);
            }
        }

        static Object of(Object handler) {
            return read(SESSION, handler);
        }

        static void goAway(Object session) throws IOException {
            ((WsSession) session).close(new CloseReason(CloseReason.CloseCodes.getCloseCode(WebServerDrain.GOING_AWAY),
                    WebServerDrain.GOING_AWAY_REASON));
        }
    }

    private static Object read(Field field, Object target) {
        try {
            return field.get(target);
        } catch (IllegalAccessException e) {
            throw new IllegalStateException(e);
        }
    }
}
