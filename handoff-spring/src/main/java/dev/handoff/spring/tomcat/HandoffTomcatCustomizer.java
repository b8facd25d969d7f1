package dev.handoff.spring.tomcat;

import dev.handoff.core.Handoff;
import dev.handoff.spring.WebServerDrain;
import org.springframework.boot.tomcat.TomcatProtocolHandlerCustomizer;
import org.springframework.boot.tomcat.TomcatWebServerFactory;
import org.springframework.boot.web.server.WebServerFactoryCustomizer;

/**
 * Makes Tomcat's HTTP connector take its listening socket from the {@link Handoff} instead of binding
 * one and adopt the connections its predecessor hands over, and tells the drain how to stop accepting,
 * how many connections are open and how they move.
 */
public class HandoffTomcatCustomizer implements WebServerFactoryCustomizer<TomcatWebServerFactory> {

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
    public void customize(TomcatWebServerFactory factory) {
        // Tomcat builds the main connector's protocol handler from a class name; the handler it built is
        // then given the Handoff, before the connector binds (TomcatWebServer.start).
        factory.setProtocol(HandoffHttp11NioProtocol.class.getName());
        factory.addProtocolHandlerCustomizers(new ProtocolCustomizer(handoff, drain, listener));
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
            protocol.listenOn(handoff, listener);
            drain.register(protocol::stopAccepting, protocol::openConnections, protocol);
        }
    }
}
