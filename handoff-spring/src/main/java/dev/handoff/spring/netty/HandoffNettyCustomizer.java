package dev.handoff.spring.netty;

import dev.handoff.core.Handoff;
import dev.handoff.spring.WebServerDrain;
import io.netty.channel.Channel;
import org.springframework.beans.factory.DisposableBean;
import org.springframework.boot.reactor.netty.NettyReactiveWebServerFactory;
import org.springframework.boot.web.server.WebServerFactoryCustomizer;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.LongSupplier;

/**
 * Runs Reactor Netty's HTTP server on event loops whose server channel wraps the listening socket the
 * {@link Handoff} gives it (no bind), with its connections on native epoll where Reactor Netty would use
 * it; makes its HTTP/1.1 connections movable and adopts those its predecessor hands over, counts the open
 * connections for the drain, and stops accepting by no longer reading from the server channel.
 */
public class HandoffNettyCustomizer implements WebServerFactoryCustomizer<NettyReactiveWebServerFactory>, DisposableBean {

    private static final Duration LOOPS_SHUTDOWN_TIMEOUT = Duration.ofSeconds(5);

    private final List<HandoffLoopResources> created = new CopyOnWriteArrayList<>();
    private final Handoff handoff;
    private final WebServerDrain drain;
    private final String listener;

    /** For the server whose listener is handed over under the name {@code listener} ({@code http}, {@code management}). */
    public HandoffNettyCustomizer(Handoff handoff, WebServerDrain drain, String listener) {
        this.handoff = handoff;
        this.drain = drain;
        this.listener = listener;
    }

    @Override
    public void customize(NettyReactiveWebServerFactory factory) {
        InetSocketAddress address = factory.getAddress() == null ? new InetSocketAddress(factory.getPort())
                : new InetSocketAddress(factory.getAddress(), factory.getPort());
        HandoffLoopResources loops = new HandoffLoopResources(() -> handoff.listen(listener, address));
        created.add(loops);
        NettyConnections connections = new NettyConnections(listener, loops::serverChannel, loops.children());
        ConnectionCloseHandler connectionClose = new ConnectionCloseHandler(drain);
        Set<Channel> open = ConcurrentHashMap.newKeySet();
        factory.addServerCustomizers(server -> server
                .runOn(loops, false)
                .childObserve(connections)
                .doOnChannelInit((observer, channel, remote) -> {
                    open.add(channel);
                    QuietPoint.atInit(channel);
                    channel.closeFuture().addListener(closed -> open.remove(channel));
                    connectionClose.manage(channel);
                }));
        // Run once, as the drain starts (after it says it is draining): responses on the connections open
        // then say Connection: close where the drain wants it, and so do those on any opened later.
        Runnable stopAccepting = () -> {
            loops.stopAccepting();
            open.forEach(connectionClose::joinLater);
        };
        LongSupplier openConnections = () -> open.size();
        if (QuietPoint.isSupported()) {
            drain.register(stopAccepting, openConnections, connections);
            handoff.onConnection(listener, connections::adopt);
        } else {
            drain.register(stopAccepting, openConnections, null);
        }
    }

    /**
     * Ends the event loops once the server has stopped (beans are destroyed after the web server's
     * lifecycle stops), with no quiet period: nothing is served on them any more. Left running, their
     * threads would sit in epoll_wait at exit, and the JVM waits about 300 ms for threads in native code
     * before it ends: a third of an old generation's time after its drain.
     */
    @Override
    public void destroy() {
        for (HandoffLoopResources loops : created) {
            loops.disposeLater(Duration.ZERO, LOOPS_SHUTDOWN_TIMEOUT).block(LOOPS_SHUTDOWN_TIMEOUT.multipliedBy(2));
        }
    }
}
