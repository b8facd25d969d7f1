package dev.handoff.spring.netty;

import dev.handoff.core.Connection;
import dev.handoff.spring.MovableConnections;
import dev.handoff.spring.WebServerDrain;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.HttpServerCodec;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.netty.ConnectionObserver;
import reactor.netty.channel.ChannelOperations;
import reactor.netty.http.websocket.WebsocketOutbound;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * The connections of Reactor Netty's HTTP server as they move. Each is released on its event loop, in one
 * task: reading stops, the decoder gives up the bytes it holds, and the channel is detached and closed
 * for Netty only. Connections come to their quiet point when a response ends ({@code DISCONNECTING} on a
 * persistent connection), or are tried where they idle. An adopted connection enters through the server
 * channel's pipeline as an accepted one does, its unread bytes fired before anything read from it.
 */
final class NettyConnections implements MovableConnections, ConnectionObserver {

    private static final Logger log = LoggerFactory.getLogger(NettyConnections.class);

    private final String listener;
    private final Supplier<Channel> serverChannel;
    private final ConnectionChannels children;
    private final Set<Channel> live = ConcurrentHashMap.newKeySet();
    private volatile Consumer<Connection> sink;

    NettyConnections(String listener, Supplier<Channel> serverChannel, ConnectionChannels children) {
        this.listener = listener;
        this.serverChannel = serverChannel;
        this.children = children;
        if (!QuietPoint.isSupported()) {
            log.warn("this Netty or Reactor Netty version hides what a connection's quiet point is read from; "
                    + "its connections close after their next answer instead of moving");
        }
    }

    @Override
    public String listener() {
        return listener;
    }

    @Override
    public void onStateChange(reactor.netty.Connection connection, State newState) {
        Channel channel = connection.channel();
        if (newState == State.CONNECTED && children.made(channel)) {
            live.add(channel);
            channel.closeFuture().addListener(closed -> live.remove(channel));
        } else if (newState == State.DISCONNECTING && sink != null && channel.isActive() && connection.isPersistent()) {
            // Inside the response's end: a pipelined request queued behind it is taken up by a task already
            // queued, so the release comes after it.
            channel.eventLoop().execute(() -> tryRelease(channel));
        }
    }

    @Override
    public void adopt(Connection connection) {
        Channel server = serverChannel.get();
        Channel child;
        try {
            child = children.child(server, connection.channel());
        } catch (IOException | RuntimeException e) {
            log.warn("could not adopt the connection {}; closing it", connection.channel(), e);
            closeQuietly(connection.channel());
            return;
        }
        child.pipeline().addLast("handoff.unread", new UnreadFirst(Unpooled.wrappedBuffer(connection.unread())));
        // The acceptor in the server channel's pipeline sets the child up as it does an accepted one.
        server.eventLoop().execute(() -> server.pipeline().fireChannelRead(child));
    }

    @Override
    public void release(Consumer<Connection> to) {
        sink = to;
        wakeIdle();
    }

    @Override
    public void wakeIdle() {
        for (Channel channel : live) {
            channel.eventLoop().execute(() -> tryRelease(channel));
        }
    }

    @Override
    public void keep() {
        sink = null;
    }

    @Override
    public Map<String, Integer> unmovable() {
        Map<String, Integer> reasons = new TreeMap<>();
        for (Channel channel : live) {
            String reason = QuietPoint.neverMoves(channel);
            if (reason != null) {
                reasons.merge(reason, 1, Integer::sum);
            }
        }
        return reasons;
    }

    /**
     * HTTP/2 connections close the graceful way Netty's HTTP/2 handler closes them: GOAWAY, streams finish.
     * WebSocket ones (over TLS too) close the way Reactor Netty closes them for an application: a Close frame,
     * then the connection (a second call sends nothing).
     */
    @Override
    public void closeUnmovable() {
        for (Channel channel : live) {
            if (ChannelOperations.get(channel) instanceof WebsocketOutbound webSocket) {
                channel.eventLoop().execute(() -> webSocket.sendClose(WebServerDrain.GOING_AWAY, WebServerDrain.GOING_AWAY_REASON)
                        .subscribe(null, error -> log.debug("could not tell the client of {} the server goes away", channel, error)));
            } else if ("http2".equals(QuietPoint.neverMoves(channel))) {
                channel.close();
            }
        }
    }

    @Override
    public int idleConnections() {
        int idle = 0;
        for (Channel channel : live) {
            if (QuietPoint.isIdle(channel)) {
                idle++;
            }
        }
        return idle;
    }

    /**
     * Closes each idle one on its event loop, where no read can begin meanwhile, if nothing has come in from
     * its client since; over TLS, Netty's TLS handler sends a close_notify first.
     */
    @Override
    public void closeIdleConnections() {
        for (Channel channel : live) {
            if (QuietPoint.isIdle(channel)) {
                channel.eventLoop().execute(() -> {
                    if (QuietPoint.isIdle(channel) && children.nothingToRead(channel)) {
                        channel.close();
                    }
                });
            }
        }
    }

    /** On the channel's event loop: releases it if it is quiet. */
    private void tryRelease(Channel channel) {
        Consumer<Connection> to = sink;
        if (to == null || !children.made(channel) || QuietPoint.notQuiet(channel) != null) {
            return;
        }
        SocketChannel socket;
        try {
            socket = children.release(channel);
        } catch (IOException | RuntimeException e) {
            log.warn("could not release the connection {} (it is tried again): {}", channel, e.toString());
            return;
        }
        channel.config().setAutoRead(false);
        ByteBuf[] held = {Unpooled.EMPTY_BUFFER};
        // Removing the decoder hands what it holds to the handler that replaces it.
        channel.pipeline().replace(HttpServerCodec.class, "handoff.release", new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(ChannelHandlerContext ctx, Object message) {
                held[0] = (ByteBuf) message;
            }

            @Override
            public void channelReadComplete(ChannelHandlerContext ctx) {
                // nothing goes on from here
            }
        });
        ByteBuffer unread = ByteBuffer.allocate(held[0].readableBytes());
        held[0].readBytes(unread);
        held[0].release();
        unread.flip();
        // Queued for the move before Netty stops counting it: the drain ends when nothing is open or queued.
        // On NIO it waits for the channel to leave its selector, which the close below brings.
        to.accept(new Connection(listener, socket, null, unread));
        live.remove(channel);
        channel.close(); // for Netty only: on NIO its key is cancelled, on epoll it leaves epoll and its own copy closes
    }

    private static void closeQuietly(SocketChannel channel) {
        try {
            channel.close();
        } catch (java.io.IOException ignored) {
            // gone either way
        }
    }

    /** First in an adopted connection's pipeline: fires its unread bytes once the server's handlers are active. */
    private static final class UnreadFirst extends ChannelInboundHandlerAdapter {
        private ByteBuf unread;

        UnreadFirst(ByteBuf unread) {
            this.unread = unread;
        }

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            ctx.fireChannelActive();
            ByteBuf bytes = unread;
            unread = null;
            ctx.pipeline().remove(this);
            if (bytes.isReadable()) {
                ctx.pipeline().fireChannelRead(bytes);
                ctx.pipeline().fireChannelReadComplete();
            } else {
                bytes.release();
            }
        }

        @Override
        public void handlerRemoved(ChannelHandlerContext ctx) {
            if (unread != null) {
                unread.release();
                unread = null;
            }
        }
    }
}
