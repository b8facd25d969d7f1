package dev.handoff.spring.tomcat;

import dev.handoff.core.Handoff;
import dev.handoff.spring.WebServerDrain;
import org.springframework.boot.tomcat.TomcatWebServerFactory;
import org.springframework.boot.web.server.WebServerFactoryCustomizer;

/**
 * Makes Tomcat's HTTP connector take its listening socket from the {@link Handoff} instead of binding
 * one, and tells the drain how to stop accepting and how many connections are open.
 */
public class HandoffTomcatCustomizer implements WebServerFactoryCustomizer<TomcatWebServerFactory> {

    private final Handoff handoff;
    private final WebServerDrain drain;

    public HandoffTomcatCustomizer(Handoff handoff, WebServerDrain drain) {
        this.handoff = handoff;
        this.drain = drain;
    }

    @Override
    public void customize(TomcatWebServerFactory factory) {
        // Tomcat builds its protocol handler from a class name, so the endpoint finds the Handoff here.
        HandoffNioEndpoint.use(handoff);
        factory.setProtocol(HandoffHttp11NioProtocol.class.getName());
        factory.addConnectorCustomizers(connector -> {
            if (connector.getProtocolHandler() instanceof HandoffHttp11NioProtocol protocol) {
                drain.openConnections(protocol::openConnections);
                drain.stopAccepting(protocol::stopAccepting);
            }
        });
    }
}
