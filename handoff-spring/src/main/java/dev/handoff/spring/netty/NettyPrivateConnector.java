package dev.handoff.spring.netty;

import dev.handoff.spring.warmup.PrivateConnector;
import dev.handoff.spring.warmup.PrivateConnectorOpener;
import org.springframework.boot.reactor.netty.NettyWebServer;
import org.springframework.boot.web.server.WebServer;
import org.springframework.context.ApplicationContext;
import org.springframework.http.server.reactive.HttpHandler;
import org.springframework.http.server.reactive.ReactorHttpHandlerAdapter;
import reactor.netty.DisposableServer;
import reactor.netty.http.server.HttpServer;
import reactor.netty.resources.LoopResources;

import java.net.InetSocketAddress;
import java.time.Duration;

/**
 * A Reactor Netty server of its own on 127.0.0.1, port 0, in front of the application's {@link HttpHandler},
 * on an event loop of its own that ends with it (a thread left in epoll_wait would hold the JVM's exit up).
 */
public final class NettyPrivateConnector implements PrivateConnector {

    /** Reactor Netty's, for the warm-up before the web server starts. */
    public static final PrivateConnectorOpener OPENER = new PrivateConnectorOpener() {
        @Override
        public boolean opens(WebServer server) {
            return server instanceof NettyWebServer;
        }

        @Override
        public PrivateConnector open(WebServer server, ApplicationContext context) {
            return NettyPrivateConnector.open(context.getBean(HttpHandler.class));
        }
    };

    private final DisposableServer server;
    private final LoopResources loops;

    private NettyPrivateConnector(DisposableServer server, LoopResources loops) {
        this.server = server;
        this.loops = loops;
    }

    private static PrivateConnector open(HttpHandler handler) {
        LoopResources loops = LoopResources.create("handoff-warm-up", 1, true);
        try {
            DisposableServer server = HttpServer.create().runOn(loops).host("127.0.0.1").port(0)
                    .handle(new ReactorHttpHandlerAdapter(handler)).bindNow();
            return new NettyPrivateConnector(server, loops);
        } catch (RuntimeException e) {
            dispose(loops);
            throw e;
        }
    }

    @Override
    public InetSocketAddress address() {
        return (InetSocketAddress) server.address();
    }

    @Override
    public void close() {
        try {
            server.disposeNow();
        } finally {
            dispose(loops);
        }
    }

    /** Nothing is left on its loop: no quiet period (Netty's default of two seconds would delay READY). */
    private static void dispose(LoopResources loops) {
        loops.disposeLater(Duration.ZERO, Duration.ofSeconds(5)).block(Duration.ofSeconds(10));
    }
}
