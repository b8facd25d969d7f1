package dev.handoff.spring.netty;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelOutboundBuffer;
import io.netty.channel.CombinedChannelDuplexHandler;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.codec.http.HttpObjectDecoder;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http2.Http2ConnectionHandler;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.AttributeKey;
import reactor.netty.NettyPipeline;
import reactor.netty.channel.ChannelOperations;

import java.lang.reflect.Field;
import java.util.Map;
import java.util.Queue;
import java.util.Set;

/**
 * Whether a Reactor Netty HTTP/1.1 connection is at its quiet point: no request under way or queued, no
 * write pending, and the decoder between two messages (it drops the lines it has parsed, so a connection
 * with half a request head read cannot move: its head exists only as the decoder's state). Netty and
 * Reactor Netty expose neither the decoder's state nor the queued requests; they are read from their
 * fields, and where those are missing (another version) no connection is called quiet.
 */
final class QuietPoint {

    private static final Set<String> BETWEEN_MESSAGES = Set.of("SKIP_INITIAL_LINE_CHARS", "READ_INITIAL");
    private static final Field INBOUND = field(CombinedChannelDuplexHandler.class, "inboundHandler");
    private static final Field DECODER_STATE = field(HttpObjectDecoder.class, "currentState");
    private static final Field PIPELINED = field(trafficHandlerClass(), "pipelined");
    private static final Field PENDING_RESPONSES = field(trafficHandlerClass(), "pendingResponses");
    private static final Field CUMULATION = field(ByteToMessageDecoder.class, "cumulation");
    /** Set on a connection whose pipeline began with a PROXY protocol decoder (Reactor Netty's own mark is gone after the first request). */
    private static final AttributeKey<Boolean> BEHIND_PROXY = AttributeKey.valueOf("handoff.proxyProtocol");

    private QuietPoint() {
    }

    /** Whether this Netty and Reactor Netty have the fields read here. */
    static boolean isSupported() {
        return INBOUND != null && DECODER_STATE != null && PIPELINED != null && PENDING_RESPONSES != null;
    }

    /** Why the connection cannot move now, or null when it can; call on its event loop. */
    static String notQuiet(Channel channel) {
        if (!isSupported()) {
            return "unsupported";
        }
        if (!channel.isActive()) {
            return "closed";
        }
        String never = neverMoves(channel);
        if (never != null) {
            return never;
        }
        if (aDecoderHoldsBytes(channel)) {
            return "in-flight";
        }
        return betweenRequests(channel) ? null : "in-flight";
    }

    /**
     * Whether an HTTP/1.1 connection (plain, over TLS, or behind a PROXY header) is idle: its handshake done,
     * nothing held by a decoder ahead of HTTP's (TLS's, a PROXY header's), and between two requests as a
     * quiet one is. Exact on its event loop; an estimate elsewhere.
     */
    static boolean isIdle(Channel channel) {
        if (!isSupported() || !channel.isActive()) {
            return false;
        }
        String never = neverMoves(channel);
        if (never != null && !"tls".equals(never) && !"proxy".equals(never)
                || channel.pipeline().get(Http2ConnectionHandler.class) != null) {
            return false;
        }
        SslHandler tls = channel.pipeline().get(SslHandler.class);
        if (tls != null && !tls.handshakeFuture().isSuccess() || aDecoderHoldsBytes(channel) || !betweenRequests(channel)) {
            return false;
        }
        // Moving hands the decoder's bytes on; a close would lose them: the start of a request line it holds
        // until the line ends (its state turns from skipping blank lines to reading the line at the first
        // byte of it, and it keeps the line's bytes until all of it is there).
        try {
            Object decoder = INBOUND.get(channel.pipeline().get(HttpServerCodec.class));
            return "SKIP_INITIAL_LINE_CHARS".equals(String.valueOf(DECODER_STATE.get(decoder)))
                    && !holdsBytes((ChannelHandler) decoder);
        } catch (IllegalAccessException | RuntimeException e) {
            return false;
        }
    }

    /**
     * No request under way or queued, no write pending, and the HTTP/1.1 decoder between two messages (it
     * drops the lines it has parsed, so one with half a request head read holds that head as its state).
     */
    private static boolean betweenRequests(Channel channel) {
        HttpServerCodec codec = channel.pipeline().get(HttpServerCodec.class);
        if (codec == null || ChannelOperations.get(channel) != null) {
            return false;
        }
        ChannelOutboundBuffer outbound = channel.unsafe().outboundBuffer();
        if (outbound != null && (outbound.size() > 0 || outbound.totalPendingWriteBytes() > 0)) {
            return false;
        }
        try {
            ChannelHandler traffic = channel.pipeline().get(NettyPipeline.HttpTrafficHandler);
            if (traffic != null && (((Queue<?>) PIPELINED.get(traffic)) != null && !((Queue<?>) PIPELINED.get(traffic)).isEmpty()
                    || PENDING_RESPONSES.getInt(traffic) != 0)) {
                return false;
            }
            return BETWEEN_MESSAGES.contains(String.valueOf(DECODER_STATE.get(INBOUND.get(codec))));
        } catch (IllegalAccessException | RuntimeException e) {
            return false;
        }
    }

    /**
     * Whether a decoder ahead of HTTP's holds bytes of the client's, which the move would lose (it hands on
     * only the HTTP decoder's): part of a PROXY protocol header, part of a TLS record, or the first bytes of
     * a connection with h2c on, which could still be HTTP/2's preface ({@code P} of a {@code POST}). One whose
     * decoders hold nothing may move: the successor's pipeline begins with the same ones.
     */
    private static boolean aDecoderHoldsBytes(Channel channel) {
        for (Map.Entry<String, ChannelHandler> handler : channel.pipeline()) {
            if (handler.getValue() instanceof ByteToMessageDecoder decoder && holdsBytes(decoder)) {
                return true;
            }
        }
        return false;
    }

    /** Whether a decoder holds bytes it has not decoded yet (part of a message); unknown counts as holding some. */
    private static boolean holdsBytes(ChannelHandler decoder) {
        if (!(decoder instanceof ByteToMessageDecoder) || CUMULATION == null) {
            return true;
        }
        try {
            ByteBuf held = (ByteBuf) CUMULATION.get(decoder);
            return held != null && held.isReadable();
        } catch (IllegalAccessException | RuntimeException e) {
            return true;
        }
    }

    /** Called as a connection's pipeline is set up, after Reactor Netty's own handlers. */
    static void atInit(Channel channel) {
        if (channel.pipeline().get(NettyPipeline.ProxyProtocolDecoder) != null) {
            channel.attr(BEHIND_PROXY).set(Boolean.TRUE);
        }
    }

    /** Why a connection can never move ({@code tls}, {@code proxy}, {@code http2}, {@code upgraded}), or null. */
    static String neverMoves(Channel channel) {
        if (channel.pipeline().get(SslHandler.class) != null) {
            return "tls";
        }
        if (channel.hasAttr(BEHIND_PROXY) && channel.pipeline().get(NettyPipeline.ProxyProtocolDecoder) == null) {
            // Its PROXY protocol header is read and gone: the successor's pipeline would wait for it first, or
            // (when the header is optional) serve the connection as the proxy's own. Whether an optional one
            // came cannot be told afterwards, so such a connection never moves either.
            return "proxy";
        }
        if (channel.pipeline().get(Http2ConnectionHandler.class) != null) {
            return "http2"; // an HTTP/1.1 codec may still sit in an upgraded pipeline
        }
        return channel.pipeline().get(HttpServerCodec.class) != null ? null : "upgraded";
    }

    private static Class<?> trafficHandlerClass() {
        try {
            return Class.forName("reactor.netty.http.server.HttpTrafficHandler");
        } catch (ClassNotFoundException e) {
            return null;
        }
    }

    private static Field field(Class<?> type, String name) {
        if (type == null) {
            return null;
        }
        try {
            Field field = type.getDeclaredField(name);
            field.setAccessible(true);
            return field;
        } catch (NoSuchFieldException | RuntimeException e) {
            return null;
        }
    }
}
