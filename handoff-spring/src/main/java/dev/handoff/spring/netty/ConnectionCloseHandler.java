package dev.handoff.spring.netty;

import dev.handoff.spring.WebServerDrain;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpStatusClass;
import io.netty.util.AttributeKey;
import reactor.netty.NettyPipeline;

/**
 * The drain's {@code Connection: close} for a Reactor Netty connection, decided as each response is
 * written, as the reactive filter would decide it at commit. It joins a connection's pipeline only once the
 * drain starts (those open then, and any that opens later), so a server that is not draining pays nothing
 * for it; the reactive filter leaves the connections marked here alone. It sits after Reactor Netty's
 * traffic handler, so that handler sees the header and closes the connection after the response.
 */
@ChannelHandler.Sharable
public final class ConnectionCloseHandler extends ChannelOutboundHandlerAdapter {

    private static final String NAME = "handoff.connectionClose";
    private static final AttributeKey<Boolean> DECIDED_HERE = AttributeKey.valueOf(NAME);

    private final WebServerDrain drain;

    ConnectionCloseHandler(WebServerDrain drain) {
        this.drain = drain;
    }

    /** Whether the connection of a Reactor Netty request gets its {@code Connection: close} from this handler. */
    public static boolean decidesFor(Object nettyRequest) {
        return nettyRequest instanceof reactor.netty.Connection connection
                && Boolean.TRUE.equals(connection.channel().attr(DECIDED_HERE).get());
    }

    /** Marks a new connection as one this handler decides for, and joins it at once if the drain has started. */
    void manage(Channel channel) {
        channel.attr(DECIDED_HERE).set(Boolean.TRUE);
        if (drain.isDraining()) {
            join(channel);
        }
    }

    /** At the drain's start: joins the connection on its event loop (any response written from then on is decided here). */
    void joinLater(Channel channel) {
        channel.eventLoop().execute(() -> join(channel));
    }

    private void join(Channel channel) {
        // Not in an HTTP/2 pipeline, which has no traffic handler: the header is forbidden there.
        if (channel.isActive() && channel.pipeline().get(NAME) == null
                && channel.pipeline().get(NettyPipeline.HttpTrafficHandler) != null) {
            channel.pipeline().addAfter(NettyPipeline.HttpTrafficHandler, NAME, this);
        }
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object message, ChannelPromise promise) throws Exception {
        if (message instanceof HttpResponse response
                && response.status().codeClass() != HttpStatusClass.INFORMATIONAL && drain.closesConnection(
                QuietPoint.neverMoves(ctx.channel()) != null, response.protocolVersion().text())) {
            response.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
        }
        ctx.write(message, promise);
    }
}
