package dev.handoff.spring.netty;

import io.netty.channel.Channel;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.ServerChannel;
import reactor.core.publisher.Mono;
import reactor.netty.resources.LoopResources;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.ServerSocketChannel;
import java.time.Duration;
import java.util.concurrent.Callable;

/**
 * Reactor Netty's default event loops (always NIO: the handed-over socket is a JDK channel), except that
 * the server channel is built around the handed-over listening socket.
 */
final class HandoffLoopResources implements LoopResources {

    private final LoopResources loops = LoopResources.create("handoff-http");
    private final Callable<ServerSocketChannel> listener;
    private volatile Channel serverChannel;

    HandoffLoopResources(Callable<ServerSocketChannel> listener) {
        this.listener = listener;
    }

    @Override
    @SuppressWarnings("unchecked")
    public <CHANNEL extends Channel> CHANNEL onChannel(Class<CHANNEL> type, EventLoopGroup group) {
        if (!ServerChannel.class.isAssignableFrom(type)) {
            return loops.onChannel(type, group);
        }
        try {
            Channel channel = new BoundNioServerSocketChannel(listener.call());
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
        return loops.onServer(false);
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
