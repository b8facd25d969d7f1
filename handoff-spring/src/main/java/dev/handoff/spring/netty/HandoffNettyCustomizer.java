package dev.handoff.spring.netty;

import dev.handoff.core.Handoff;
import dev.handoff.spring.WebServerDrain;
import org.springframework.boot.reactor.netty.NettyReactiveWebServerFactory;
import org.springframework.boot.web.server.WebServerFactoryCustomizer;

import java.net.InetSocketAddress;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Runs Reactor Netty's HTTP server on NIO event loops whose server channel wraps the listening socket
 * the {@link Handoff} gives it (no bind), makes its HTTP/1.1 connections movable and adopts those its
 * predecessor hands over, counts the open connections for the drain, and stops accepting by no longer
 * reading from the server channel.
 */
public class HandoffNettyCustomizer implements WebServerFactoryCustomizer<NettyReactiveWebServerFactory> {

    /** The name of the listener of the HTTP server, in the {@link Handoff}. */
    static final String LISTENER = "http";

    private final Handoff handoff;
    private final WebServerDrain drain;

    public HandoffNettyCustomizer(Handoff handoff, WebServerDrain drain) {
        this.handoff = handoff;
        this.drain = drain;
    }

    @Override
    public void customize(NettyReactiveWebServerFactory factory) {
        InetSocketAddress address = factory.getAddress() == null ? new InetSocketAddress(factory.getPort())
                : new InetSocketAddress(factory.getAddress(), factory.getPort());
        HandoffLoopResources loops = new HandoffLoopResources(() -> handoff.listen(LISTENER, address));
        NettyConnections connections = new NettyConnections(LISTENER, loops::serverChannel);
        AtomicLong open = new AtomicLong();
        factory.addServerCustomizers(server -> server
                .runOn(loops, false)
                .childObserve(connections)
                .doOnChannelInit((observer, channel, remote) -> {
                    open.incrementAndGet();
                    channel.closeFuture().addListener(closed -> open.decrementAndGet());
                }));
        drain.openConnections(open::get);
        drain.stopAccepting(loops::stopAccepting);
        if (QuietPoint.isSupported()) {
            drain.movableConnections(connections);
            handoff.onConnection(LISTENER, connections::adopt);
        }
    }
}
