package dev.handoff.spring.tomcat;

import org.apache.coyote.http11.upgrade.UpgradeProcessorBase;
import org.apache.coyote.http11.upgrade.UpgradeProcessorInternal;

import java.lang.reflect.Field;
import java.util.Map;

/**
 * What an upgraded Tomcat connection is, and whether an HTTP/2 one still works on a stream. Tomcat keeps
 * both out of reach: an upgrade's handler is private to its processor, and the HTTP/2 handler's class and
 * its map of streams are package-private. The processor's class alone cannot tell: WebSocket is an
 * internal upgrade too.
 */
final class UpgradedConnections {

    private static final Field HANDLER;
    private static final Class<?> HTTP2;
    private static final Field STREAMS;

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

    private static Object read(Field field, Object target) {
        try {
            return field.get(target);
        } catch (IllegalAccessException e) {
            throw new IllegalStateException(e);
        }
    }
}
