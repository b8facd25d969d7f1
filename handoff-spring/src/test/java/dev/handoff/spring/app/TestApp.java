package dev.handoff.spring.app;

import dev.handoff.core.Handoff;
import dev.handoff.core.testing.ThreadPriorities;
import dev.handoff.spring.HandoffDrainedEvent;
import dev.handoff.spring.HandoffReadyEvent;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.WebApplicationType;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.boot.context.event.ApplicationEnvironmentPreparedEvent;
import org.springframework.boot.context.event.ApplicationReadyEvent;
import org.eclipse.jetty.server.ServerConnector;
import org.springframework.boot.jetty.servlet.JettyServletWebServerFactory;
import org.springframework.boot.reactor.netty.NettyReactiveWebServerFactory;
import org.springframework.boot.tomcat.servlet.TomcatServletWebServerFactory;
import org.springframework.boot.web.server.WebServerFactoryCustomizer;
import org.springframework.boot.web.server.context.WebServerApplicationContext;
import org.springframework.context.ApplicationListener;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.context.annotation.Profile;
import org.springframework.core.Ordered;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.http.server.reactive.ServerHttpRequestDecorator;
import org.springframework.web.server.ServerWebExchange;
import reactor.core.publisher.Mono;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.Map;

/**
 * A plain Spring Boot application with the starter, run as a child JVM by the tests: {@code GET /} and
 * {@code GET /slow?ms=N} answer the pid and generation ({@code /flushed?ms=N} too, on the servlet servers, from
 * the request's own thread), {@code GET /empty?ms=N} a 204 after as long. The profile names the embedded server (tomcat,
 * jetty, netty); all three are on the test class path, so each profile declares its factory. On Reactor Netty,
 * {@code GET /channel} also names the class of the Netty channel that carries the request's connection. A WebSocket
 * at {@code /ws} answers each text message with the pid, a space and the message.
 */
@SpringBootApplication
public class TestApp {

    public static void main(String[] args) {
        SpringApplication application = new SpringApplication(TestApp.class);
        boolean netty = String.join(" ", args).contains("spring.profiles.active=netty");
        if (java.util.List.of(args).contains("--test.reactor-netty-native=false")) {
            System.setProperty("reactor.netty.native", "false"); // read once, before Reactor Netty's classes load
        }
        application.setWebApplicationType(netty ? WebApplicationType.REACTIVE : WebApplicationType.SERVLET);
        application.addListeners(new PrintNiceAtEnvironment());
        application.run(args);
    }

    /**
     * Before any other listener of the environment (the application's properties are not read yet): the nice
     * value of the thread that runs the start-up, as {@code ENVIRONMENT nice=N}.
     */
    static final class PrintNiceAtEnvironment implements ApplicationListener<ApplicationEnvironmentPreparedEvent>, Ordered {
        @Override
        public void onApplicationEvent(ApplicationEnvironmentPreparedEvent event) {
            try {
                // The main thread's: the one that runs the start-up, and this listener.
                System.out.println("ENVIRONMENT nice=" + ThreadPriorities.niceOf(ProcessHandle.current().pid()));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        @Override
        public int getOrder() {
            return Ordered.HIGHEST_PRECEDENCE;
        }
    }

    /** The ports first (the first generation binds port 0), then READY. */
    @Bean
    ApplicationListener<HandoffReadyEvent> printReady() {
        return event -> {
            StringBuilder ports = new StringBuilder("LISTENERS");
            event.getHandoff().listenerAddresses().forEach((name, address) -> ports.append(' ').append(name)
                    .append('=').append(address.getPort()));
            System.out.println(ports);
            System.out.println("READY pid=" + ProcessHandle.current().pid() + " generation="
                    + event.getHandoff().generation());
        };
    }

    /** Started without the starter (no handoff.socket, as the benchmark's baseline): the same lines. */
    @Bean
    ApplicationListener<ApplicationReadyEvent> printReadyWithoutHandoff(ObjectProvider<Handoff> handoff) {
        return event -> {
            if (handoff.getIfAvailable() == null && event.getApplicationContext() instanceof WebServerApplicationContext web) {
                System.out.println("LISTENERS http=" + web.getWebServer().getPort());
                System.out.println("READY pid=" + ProcessHandle.current().pid() + " generation=0");
            }
        };
    }

    /** The drain has begun: readiness refuses traffic before anything else of the drain. */
    @Bean
    ApplicationListener<org.springframework.boot.availability.AvailabilityChangeEvent<org.springframework.boot.availability.ReadinessState>> printDraining() {
        return event -> {
            if (event.getState() == org.springframework.boot.availability.ReadinessState.REFUSING_TRAFFIC) {
                System.out.println("DRAINING");
            }
        };
    }

    @Bean
    ApplicationListener<HandoffDrainedEvent> printDrained() {
        return event -> System.out.println("DRAINED moved=" + event.getOutcome().moved() + " kept="
                + event.getOutcome().kept() + " unmovable=" + event.getOutcome().unmovable() + " open="
                + event.getOutcome().leftOpen());
    }

    /** How many of Handoff's warm-up requests reached this generation's handler, said once it has drained. */
    @Bean
    ApplicationListener<HandoffDrainedEvent> printWarmUps() {
        return event -> System.out.println("WARM-UPS " + Answers.WARM_UPS.get());
    }

    /**
     * An application with an exit code of its own and a bean that takes its time to close: after a handoff,
     * the old generation must close its context to the end and exit with that code.
     */
    @Configuration(proxyBeanMethods = false)
    @ConditionalOnProperty("test.exit-code")
    static class SlowToClose {
        @Bean
        org.springframework.boot.ExitCodeGenerator exitCode(@Value("${test.exit-code}") int code) {
            return () -> code;
        }

        @Bean
        org.springframework.beans.factory.DisposableBean slowToDestroy() {
            return () -> {
                Thread.sleep(300);
                System.out.println("DESTROYED pid=" + ProcessHandle.current().pid());
            };
        }
    }

    /** A context that takes its time to start: it says so, then holds its start-up for {@code test.start-delay}. */
    @Bean
    @ConditionalOnProperty("test.start-delay")
    org.springframework.beans.factory.InitializingBean slowToStart(@Value("${test.start-delay}") java.time.Duration delay) {
        return () -> {
            System.out.println("CONTEXT STARTING pid=" + ProcessHandle.current().pid());
            Thread.sleep(delay.toMillis());
        };
    }

    /** The application's own TCP servers, each a bean with a listener of its own. */
    @Configuration(proxyBeanMethods = false)
    static class TcpServers {
        @Bean
        @ConditionalOnProperty("test.echo-port")
        EchoServer echoServer(Handoff handoff, @Value("${test.echo-port}") int port) throws IOException {
            return new EchoServer(handoff, "echo", port);
        }

        @Bean
        @ConditionalOnProperty("test.second-echo-port")
        EchoServer secondEchoServer(Handoff handoff, @Value("${test.second-echo-port}") int port) throws IOException {
            return new EchoServer(handoff, "echo-2", port);
        }
    }

    @RestController
    static class Answers {

        /** Requests from Handoff's warm-up that reached this application's handler. */
        static final java.util.concurrent.atomic.AtomicInteger WARM_UPS = new java.util.concurrent.atomic.AtomicInteger();

        private final org.springframework.context.ApplicationContext context;

        Answers(org.springframework.context.ApplicationContext context) {
            this.context = context;
        }

        @org.springframework.web.bind.annotation.RequestMapping(path = "/", method = {
                org.springframework.web.bind.annotation.RequestMethod.GET, org.springframework.web.bind.annotation.RequestMethod.POST})
        Map<String, Object> root(@org.springframework.web.bind.annotation.RequestHeader(name = "User-Agent", required = false) String agent) {
            if ("handoff-warm-up".equals(agent)) {
                WARM_UPS.incrementAndGet();
            }
            return identity();
        }

        @GetMapping("/warm-ups")
        Map<String, Object> warmUps() {
            return Map.of("pid", ProcessHandle.current().pid(), "warmUps", WARM_UPS.get());
        }

        @GetMapping("/slow")
        Mono<Map<String, Object>> slow(@RequestParam(name = "ms", defaultValue = "100") long ms) {
            return Mono.delay(Duration.ofMillis(ms)).map(tick -> identity());
        }

        /** 204, after {@code ms}, asynchronously: a response without a body. */
        @GetMapping("/empty")
        Mono<org.springframework.http.ResponseEntity<Void>> empty(@RequestParam(name = "ms", defaultValue = "100") long ms) {
            return Mono.delay(Duration.ofMillis(ms)).map(tick -> org.springframework.http.ResponseEntity.noContent().build());
        }

        Map<String, Object> identity() {
            return Map.of("pid", ProcessHandle.current().pid(),
                    "generation", context.getBeanProvider(Handoff.class).stream().mapToInt(Handoff::generation).findFirst().orElse(0));
        }
    }

    @Configuration(proxyBeanMethods = false)
    @Profile("tomcat")
    static class Tomcat {
        @Bean
        TomcatServletWebServerFactory tomcat() {
            return new TomcatServletWebServerFactory();
        }

        /** A second HTTP connector, added the way Spring Boot documents it, with a setting of its own. */
        @Bean
        @ConditionalOnProperty("test.additional-connector-port")
        WebServerFactoryCustomizer<TomcatServletWebServerFactory> additionalConnector(
                @Value("${test.additional-connector-port}") int port) {
            return factory -> {
                org.apache.catalina.connector.Connector connector = new org.apache.catalina.connector.Connector();
                connector.setPort(port);
                connector.setProperty("maxKeepAliveRequests", "-1");
                factory.addAdditionalConnectors(connector);
            };
        }
    }

    @Configuration(proxyBeanMethods = false)
    @Profile({"tomcat", "jetty"})
    static class Servlet {
        /**
         * The pid and generation, written and flushed after {@code ms} on the request's own thread, which
         * then goes on for a moment: a response committed while its request still runs.
         */
        @RestController
        static class Flushed {
            private final Answers answers;

            Flushed(Answers answers) {
                this.answers = answers;
            }

            @GetMapping("/flushed")
            void flushed(@RequestParam(name = "ms", defaultValue = "100") long ms, jakarta.servlet.http.HttpServletResponse response)
                    throws IOException, InterruptedException {
                Thread.sleep(ms);
                response.setContentType("application/json");
                Map<String, Object> identity = answers.identity();
                response.getWriter().write("{\"pid\":" + identity.get("pid") + ",\"generation\":" + identity.get("generation") + "}");
                response.flushBuffer();
                Thread.sleep(100);
            }
        }
    }

    /** {@code /ws}: a WebSocket that answers each text message with this process's pid, a space and the message. */
    @Configuration(proxyBeanMethods = false)
    @Profile({"tomcat", "jetty"})
    @org.springframework.web.socket.config.annotation.EnableWebSocket
    static class ServletWebSocket implements org.springframework.web.socket.config.annotation.WebSocketConfigurer {
        private final boolean jetty;

        ServletWebSocket(org.springframework.core.env.Environment environment) {
            this.jetty = environment.acceptsProfiles(org.springframework.core.env.Profiles.of("jetty"));
        }

        @Override
        public void registerWebSocketHandlers(org.springframework.web.socket.config.annotation.WebSocketHandlerRegistry registry) {
            // Named: Spring picks the strategy by what is on the class path, where both servers are.
            org.springframework.web.socket.server.RequestUpgradeStrategy upgrade = jetty
                    ? new org.springframework.web.socket.server.jetty.JettyRequestUpgradeStrategy()
                    : new org.springframework.web.socket.server.standard.StandardWebSocketUpgradeStrategy();
            registry.addHandler(new org.springframework.web.socket.handler.TextWebSocketHandler() {
                @Override
                protected void handleTextMessage(org.springframework.web.socket.WebSocketSession session,
                                                 org.springframework.web.socket.TextMessage message) throws IOException {
                    session.sendMessage(new org.springframework.web.socket.TextMessage(
                            ProcessHandle.current().pid() + " " + message.getPayload()));
                }
            }, "/ws").setHandshakeHandler(new org.springframework.web.socket.server.support.DefaultHandshakeHandler(upgrade));
        }
    }

    @Configuration(proxyBeanMethods = false)
    @Profile("jetty")
    static class Jetty {
        @Bean
        JettyServletWebServerFactory jetty() {
            return new JettyServletWebServerFactory();
        }

        /** A second HTTP connector, added by a server customizer. */
        @Bean
        @ConditionalOnProperty("test.additional-connector-port")
        WebServerFactoryCustomizer<JettyServletWebServerFactory> additionalConnector(
                @Value("${test.additional-connector-port}") int port) {
            return factory -> factory.addServerCustomizers(server -> {
                ServerConnector connector = new ServerConnector(server);
                connector.setPort(port);
                server.addConnector(connector);
            });
        }

        /** Connections to the application's connector begin with a PROXY protocol header. */
        @Bean
        @ConditionalOnProperty("test.proxy-protocol")
        WebServerFactoryCustomizer<JettyServletWebServerFactory> proxyProtocol() {
            return factory -> factory.addServerCustomizers(server -> {
                for (org.eclipse.jetty.server.Connector connector : server.getConnectors()) {
                    ((ServerConnector) connector).addFirstConnectionFactory(
                            new org.eclipse.jetty.server.ProxyConnectionFactory(org.eclipse.jetty.http.HttpVersion.HTTP_1_1.asString()));
                }
            });
        }
    }

    @Configuration(proxyBeanMethods = false)
    @Profile("netty")
    static class Netty {
        @Bean
        NettyReactiveWebServerFactory netty() {
            return new NettyReactiveWebServerFactory();
        }

        /** Connections begin with a PROXY protocol header. */
        @Bean
        @ConditionalOnProperty("test.proxy-protocol")
        WebServerFactoryCustomizer<NettyReactiveWebServerFactory> proxyProtocol() {
            return factory -> factory.addServerCustomizers(
                    server -> server.proxyProtocol(reactor.netty.http.server.ProxyProtocolSupportType.ON));
        }

        /** {@code /ws}: as on the servlet servers. */
        @Bean
        org.springframework.web.reactive.HandlerMapping webSocket() {
            org.springframework.web.reactive.socket.WebSocketHandler echo = session -> session.send(session.receive()
                    .map(message -> session.textMessage(ProcessHandle.current().pid() + " " + message.getPayloadAsText())));
            return new org.springframework.web.reactive.handler.SimpleUrlHandlerMapping(Map.of("/ws", echo), -1);
        }

        /** Named: Spring picks the strategy by what is on the class path, where Jetty is too. */
        @Bean
        org.springframework.web.reactive.config.WebFluxConfigurer webSocketService() {
            return new org.springframework.web.reactive.config.WebFluxConfigurer() {
                @Override
                public org.springframework.web.reactive.socket.server.WebSocketService getWebSocketService() {
                    return new org.springframework.web.reactive.socket.server.support.HandshakeWebSocketService(
                            new org.springframework.web.reactive.socket.server.upgrade.ReactorNettyRequestUpgradeStrategy());
                }
            };
        }

        @RestController
        static class Channel {
            @GetMapping("/channel")
            Map<String, Object> channel(ServerWebExchange exchange) {
                reactor.netty.Connection connection = ServerHttpRequestDecorator.getNativeRequest(exchange.getRequest());
                return Map.of("pid", ProcessHandle.current().pid(),
                        "channel", connection.channel().getClass().getSimpleName());
            }
        }
    }
}
