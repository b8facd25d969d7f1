package dev.handoff.spring.netty;

import io.netty.channel.Channel;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.ServerChannel;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.Mono;
import reactor.netty.resources.LoopResources;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.ServerSocketChannel;
import java.time.Duration;
import java.util.concurrent.Callable;

/**
 * Reactor Netty's default event loops, except that the server channel is built around the handed-over
 * listening socket: the listener on an NIO event loop (the handed-over socket is a JDK channel), its
 * connections on the transport Reactor Netty would pick (native epoll on Linux, unless turned off with
 * {@code -Dreactor.netty.native=false}; NIO otherwise).
 */
final class HandoffLoopResources implements LoopResources {

    private static final Logger log = LoggerFactory.getLogger(HandoffLoopResources.class);

    private final LoopResources loops = LoopResources.create("handoff-http");
    private final Callable<ServerSocketChannel> listener;
    private final ConnectionChannels children;
    private final boolean nativeChildren;
    private volatile Channel serverChannel;

    HandoffLoopResources(Callable<ServerSocketChannel> listener) {
        this.listener = listener;
        this.children = ConnectionChannels.forLoops(
                LoopResources.DEFAULT_NATIVE && LoopResources.hasNativeSupport() ? loops.onServer(true) : null);
        this.nativeChildren = !(children instanceof NioConnectionChannels);
        log.info("Reactor Netty connections run on {} event loops", nativeChildren ? "epoll" : "NIO");
    }

    /** How this server's connections are made and released. */
    ConnectionChannels children() {
        return children;
    }

    @Override
    @SuppressWarnings("unchecked")
    public <CHANNEL extends Channel> CHANNEL onChannel(Class<CHANNEL> type, EventLoopGroup group) {
        if (!ServerChannel.class.isAssignableFrom(type)) {
            return loops.onChannel(type, group);
        }
        try {
            Channel channel = new BoundNioServerSocketChannel(listener.call(), children);
            serverChannel = channel;
            return (CHANNEL) channel;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (Exception e) {
            throw new IllegalStateException("could not get the listening socket from the handoff", e);
        }
    }

    @Override
    public <CHANNEL extends Channel> Class<? extends CHANNEL> onChannelClass(Class<CHANNEL> type, EventLoopGroup group) {
        return loops.onChannelClass(type, group);
    }

    /** The server channel, once the server is bound. */
    Channel serverChannel() {
        Channel channel = serverChannel;
        if (channel == null) {
            throw new IllegalStateException("the server is not bound yet");
        }
        return channel;
    }

    void stopAccepting() {
        Channel channel = serverChannel;
        if (channel != null) {
            channel.config().setAutoRead(false);
        }
    }

    @Override
    public EventLoopGroup onServer(boolean useNative) {
        return loops.onServer(nativeChildren);
    }

    @Override
    public EventLoopGroup onServerSelect(boolean useNative) {
        return loops.onServerSelect(false);
    }

    @Override
    public EventLoopGroup onClient(boolean useNative) {
        return loops.onClient(false);
    }

    @Override
    public boolean daemon() {
        return loops.daemon();
    }

    @Override
    public void dispose() {
        loops.dispose();
    }

    @Override
    public Mono<Void> disposeLater() {
        return loops.disposeLater();
    }

    @Override
    public Mono<Void> disposeLater(Duration quietPeriod, Duration timeout) {
        return loops.disposeLater(quietPeriod, timeout);
    }
}
