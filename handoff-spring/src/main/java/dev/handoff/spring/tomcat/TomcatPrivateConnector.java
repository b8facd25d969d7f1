package dev.handoff.spring.tomcat;

import dev.handoff.spring.warmup.PrivateConnector;
import dev.handoff.spring.warmup.PrivateConnectorOpener;
import org.apache.catalina.Service;
import org.apache.catalina.connector.Connector;
import org.springframework.boot.tomcat.TomcatWebServer;
import org.springframework.boot.web.server.WebServer;
import org.springframework.context.ApplicationContext;

import java.net.InetSocketAddress;

/**
 * A plain HTTP/1.1 connector on 127.0.0.1, port 0, added to Tomcat's service while its own connectors wait
 * for the web server's start (Spring Boot adds those only then).
 */
public final class TomcatPrivateConnector implements PrivateConnector {

    /** Tomcat's, for the warm-up before the web server starts. */
    public static final PrivateConnectorOpener OPENER = new PrivateConnectorOpener() {
        @Override
        public boolean opens(WebServer server) {
            return server instanceof TomcatWebServer;
        }

        @Override
        public PrivateConnector open(WebServer server, ApplicationContext context) throws Exception {
            return TomcatPrivateConnector.open(((TomcatWebServer) server).getTomcat().getService());
        }
    };

    private final Service service;
    private final Connector connector;

    private TomcatPrivateConnector(Service service, Connector connector) {
        this.service = service;
        this.connector = connector;
    }

    private static PrivateConnector open(Service service) throws Exception {
        Connector connector = new Connector();
        connector.setPort(0);
        connector.setProperty("address", "127.0.0.1");
        service.addConnector(connector); // started at once: the service runs
        if (connector.getLocalPort() <= 0) {
            service.removeConnector(connector);
            connector.destroy();
            throw new IllegalStateException("Tomcat's private connector did not start: " + connector.getStateName());
        }
        return new TomcatPrivateConnector(service, connector);
    }

    @Override
    public InetSocketAddress address() {
        return new InetSocketAddress("127.0.0.1", connector.getLocalPort());
    }

    @Override
    public void close() throws Exception {
        service.removeConnector(connector); // stops it
        connector.destroy();
    }
}
