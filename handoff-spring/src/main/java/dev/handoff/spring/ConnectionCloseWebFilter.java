package dev.handoff.spring;

import dev.handoff.spring.netty.ConnectionCloseHandler;
import org.springframework.core.Ordered;
import org.springframework.http.server.reactive.ServerHttpRequestDecorator;
import org.springframework.util.ClassUtils;
import org.springframework.web.server.ServerWebExchange;
import org.springframework.web.server.WebFilter;
import org.springframework.web.server.WebFilterChain;
import reactor.core.publisher.Mono;
import reactor.netty.http.server.HttpServerRequest;

/**
 * {@link ConnectionCloseFilter} for reactive applications. On Reactor Netty connections that the starter's
 * customizer set up, {@link ConnectionCloseHandler} decides instead, in the connection's pipeline.
 */
public class ConnectionCloseWebFilter implements WebFilter, Ordered {

    private static final boolean NETTY = ClassUtils.isPresent("reactor.netty.http.server.HttpServerRequest",
            ConnectionCloseWebFilter.class.getClassLoader());

    private final WebServerDrain drain;

    public ConnectionCloseWebFilter(WebServerDrain drain) {
        this.drain = drain;
    }

    @Override
    public Mono<Void> filter(ServerWebExchange exchange, WebFilterChain chain) {
        // Only where Reactor Netty is: elsewhere the native request is never looked at.
        Object request = NETTY ? ServerHttpRequestDecorator.getNativeRequest(exchange.getRequest()) : null;
        if (NETTY && NettyProtocol.decidedByConnection(request)) {
            // A commit action on every response costs Reactor Netty a few percent of its throughput.
            return chain.filter(exchange);
        }
        exchange.getResponse().beforeCommit(() -> {
            // Asked first: what follows walks the connection's pipeline, once per response.
            if (drain.isDraining()
                    && drain.closesConnection(exchange.getRequest().getSslInfo() != null, protocolOf(request))) {
                exchange.getResponse().getHeaders().set("Connection", "close");
            }
            return Mono.empty();
        });
        return chain.filter(exchange);
    }

    /**
     * The request's protocol where the server says it (Reactor Netty: {@code HTTP/1.1}, {@code HTTP/2.0});
     * HTTP/1.1 elsewhere.
     */
    private static String protocolOf(Object request) {
        return NETTY ? NettyProtocol.of(request) : "HTTP/1.1";
    }

    /** Loaded only where Reactor Netty is: WebFlux runs on other servers too. */
    private static final class NettyProtocol {
        static String of(Object request) {
            return request instanceof HttpServerRequest netty ? netty.version().text() : "HTTP/1.1";
        }

        static boolean decidedByConnection(Object request) {
            return ConnectionCloseHandler.decidesFor(request);
        }
    }

    @Override
    public int getOrder() {
        return Ordered.HIGHEST_PRECEDENCE;
    }
}
