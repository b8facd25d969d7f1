package dev.handoff.spring.autoconfigure;

import dev.handoff.core.Handoff;
import dev.handoff.spring.WebServerDrain;
import dev.handoff.spring.jetty.HandoffJettyCustomizer;
import dev.handoff.spring.netty.HandoffNettyCustomizer;
import dev.handoff.spring.tomcat.HandoffTomcatCustomizer;
import org.springframework.boot.actuate.autoconfigure.web.ManagementContextConfiguration;
import org.springframework.boot.actuate.autoconfigure.web.ManagementContextType;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * The management server on a port of its own ({@code management.server.port}) runs in a child context
 * that Boot configures apart from the application's: there its listener is handed over as well, under the
 * name {@code management}, and its connections move like the application server's. It uses the
 * application context's {@link Handoff} and {@link WebServerDrain}.
 */
@ManagementContextConfiguration(value = ManagementContextType.CHILD, proxyBeanMethods = false)
@ConditionalOnBean({Handoff.class, WebServerDrain.class})
public final class HandoffManagementContextConfiguration {

    /** The name under which the management server's listener is handed over. */
    public static final String MANAGEMENT_LISTENER = "management";

    @Configuration(proxyBeanMethods = false)
    @ConditionalOnClass(name = {"org.apache.catalina.startup.Tomcat", "org.springframework.boot.tomcat.TomcatWebServerFactory"})
    static class Tomcat {

        @Bean
        HandoffTomcatCustomizer handoffManagementTomcatCustomizer(Handoff handoff, WebServerDrain webServerDrain) {
            return new HandoffTomcatCustomizer(handoff, webServerDrain, MANAGEMENT_LISTENER);
        }
    }

    @Configuration(proxyBeanMethods = false)
    @ConditionalOnClass(name = {"org.eclipse.jetty.server.ServerConnector", "org.springframework.boot.jetty.JettyWebServerFactory"})
    static class Jetty {

        @Bean
        HandoffJettyCustomizer handoffManagementJettyCustomizer(Handoff handoff, WebServerDrain webServerDrain) {
            return new HandoffJettyCustomizer(handoff, webServerDrain, MANAGEMENT_LISTENER);
        }
    }

    @Configuration(proxyBeanMethods = false)
    @ConditionalOnClass(name = {"reactor.netty.http.server.HttpServer", "org.springframework.boot.reactor.netty.NettyReactiveWebServerFactory"})
    static class Netty {

        @Bean
        HandoffNettyCustomizer handoffManagementNettyCustomizer(Handoff handoff, WebServerDrain webServerDrain) {
            return new HandoffNettyCustomizer(handoff, webServerDrain, MANAGEMENT_LISTENER);
        }
    }
}
