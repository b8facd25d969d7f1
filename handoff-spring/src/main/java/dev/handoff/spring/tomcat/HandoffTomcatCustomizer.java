package dev.handoff.spring.tomcat;

import dev.handoff.core.Handoff;
import dev.handoff.spring.WebServerDrain;
import org.apache.catalina.connector.Connector;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.boot.tomcat.TomcatProtocolHandlerCustomizer;
import org.springframework.boot.tomcat.TomcatWebServerFactory;
import org.springframework.boot.web.server.WebServerFactoryCustomizer;
import org.springframework.core.Ordered;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Makes Tomcat's HTTP connectors take their listening sockets from the {@link Handoff} instead of binding
 * them and adopt the connections their predecessors hand over, and tells the drain how to stop accepting,
 * how many connections are open and how they move: the main connector, and those the application added
 * ({@code addAdditionalConnectors}, before this customizer runs: it is ordered last).
 */
public class HandoffTomcatCustomizer implements WebServerFactoryCustomizer<TomcatWebServerFactory>, Ordered {

    private static final Logger log = LoggerFactory.getLogger(HandoffTomcatCustomizer.class);

    private final Handoff handoff;
    private final WebServerDrain drain;
    private final String listener;

    /** For the server whose listener is handed over under the name {@code listener} ({@code http}, {@code management}). */
    public HandoffTomcatCustomizer(Handoff handoff, WebServerDrain drain, String listener) {
        this.handoff = handoff;
        this.drain = drain;
        this.listener = listener;
    }

    @Override
    public int getOrder() {
        return Ordered.LOWEST_PRECEDENCE;
    }

    @Override
    public void customize(TomcatWebServerFactory factory) {
        // Tomcat builds the main connector's protocol handler from a class name; the handler it built is
        // then given the Handoff, before the connector binds (TomcatWebServer.start).
        factory.setProtocol(HandoffHttp11NioProtocol.class.getName());
        factory.addProtocolHandlerCustomizers(new ProtocolCustomizer(handoff, drain, listener));
        List<Connector> additional = new ArrayList<>();
        for (Connector connector : factory.getAdditionalConnectors()) {
            additional.add(handedOver(connector, listener + "-" + (additional.size() + 1)));
        }
        factory.setAdditionalConnectors(additional);
    }

    /**
     * A connector the application added: on Handoff's protocol (a copy if need be) under its own listener
     * name, in the order the factory lists them ({@code http-1}, {@code http-2}, ...); one that cannot be
     * handed over stays as it is, and says so, since each generation would bind its port anew.
     */
    private Connector handedOver(Connector connector, String name) {
        Optional<Connector> movable = ConnectorCopy.onHandoffProtocol(connector);
        if (movable.isEmpty()) {
            log.warn("Tomcat's connector on port {} ({}) is not handed over: only HTTP/1.1 NIO connectors are. A "
                    + "successor binds its port anew, which fails while this process holds it", connector.getPort(),
                    connector.getProtocolHandlerClassName());
            return connector;
        }
        register((HandoffHttp11NioProtocol) movable.get().getProtocolHandler(), handoff, drain, name);
        return movable.get();
    }

    private static void register(HandoffHttp11NioProtocol protocol, Handoff handoff, WebServerDrain drain, String listener) {
        protocol.listenOn(handoff, listener, drain);
        drain.register(protocol::stopAccepting, protocol::openConnections, protocol);
    }

    /** A named class rather than a lambda: Spring Boot picks protocol handler customizers by their type argument. */
    private static final class ProtocolCustomizer implements TomcatProtocolHandlerCustomizer<HandoffHttp11NioProtocol> {
        private final Handoff handoff;
        private final WebServerDrain drain;
        private final String listener;

        ProtocolCustomizer(Handoff handoff, WebServerDrain drain, String listener) {
            this.handoff = handoff;
            this.drain = drain;
            this.listener = listener;
        }

        @Override
        public void customize(HandoffHttp11NioProtocol protocol) {
            register(protocol, handoff, drain, listener);
        }
    }
}
