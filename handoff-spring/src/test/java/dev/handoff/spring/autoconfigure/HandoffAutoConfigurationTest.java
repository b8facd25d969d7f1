package dev.handoff.spring.autoconfigure;

import dev.handoff.core.Handoff;
import dev.handoff.core.HandoffOptions;
import dev.handoff.spring.HandoffCoordinator;
import dev.handoff.spring.WebServerDrain;
import dev.handoff.spring.actuate.HandoffEndpoint;
import dev.handoff.spring.actuate.HandoffHealthIndicator;
import dev.handoff.spring.warmup.RequestPathWarmUp;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.test.context.FilteredClassLoader;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.boot.test.context.runner.WebApplicationContextRunner;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/** The auto-configurations in a plain (non-web) context: what they create, what they bind, when they back off. */
@Timeout(60)
class HandoffAutoConfigurationTest {

    @TempDir
    Path temp;

    private final ApplicationContextRunner runner = new ApplicationContextRunner()
            .withConfiguration(AutoConfigurations.of(HandoffAutoConfiguration.class,
                    HandoffEndpointAutoConfiguration.class, HandoffHealthAutoConfiguration.class));

    private String socket() {
        return "handoff.socket=" + temp.resolve("run/a.sock");
    }

    @Test
    void nothingWithoutASocket() {
        runner.run(context -> assertThat(context).hasNotFailed()
                .doesNotHaveBean(Handoff.class).doesNotHaveBean(HandoffCoordinator.class));
    }

    @Test
    void nothingWhenDisabled() {
        runner.withPropertyValues(socket(), "handoff.enabled=false")
                .run(context -> assertThat(context).hasNotFailed().doesNotHaveBean(Handoff.class));
    }

    @Test
    void aSharedSecretFileOthersCanReadStopsTheStartWithTheFix() throws IOException {
        Path secret = Files.writeString(temp.resolve("open-secret"), "0123456789abcdef0123");
        Files.setPosixFilePermissions(secret, PosixFilePermissions.fromString("rw-r--r--"));
        runner.withPropertyValues(socket(), "handoff.shared-secret-file=" + secret)
                .run(context -> assertThat(context).hasFailed().getFailure().rootCause().hasMessageContaining("chmod 600"));
    }

    @Test
    void aNegativeIdleCloseGraceStopsTheStartSayingWhichProperty() {
        runner.withPropertyValues(socket(), "handoff.idle-close-grace=-1s")
                .run(context -> assertThat(context).hasFailed().getFailure().rootCause()
                        .hasMessageContaining("handoff.idle-close-grace must be zero or more"));
    }

    /**
     * The properties' defaults (literals, for Boot's metadata) are the core's own, but for the two windows a
     * Spring context's start-up must fit in, which are longer (as the README's property table says).
     */
    @Test
    void withNothingButTheSocketTheOptionsAreTheCoresDefaultsButForLongerStartUpWindows() {
        runner.withPropertyValues(socket()).run(context -> {
            HandoffOptions options = context.getBean(HandoffOptions.class);
            HandoffOptions core = HandoffOptions.builder(options.socketPath()).build();
            assertThat(options.stepTimeout()).isEqualTo(core.stepTimeout());
            assertThat(options.readyTimeout()).isEqualTo(Duration.ofSeconds(120)).isGreaterThan(core.readyTimeout());
            assertThat(options.probation()).isEqualTo(core.probation());
            assertThat(options.startupNice()).isEqualTo(core.startupNice()).isEqualTo(HandoffOptions.DEFAULT_STARTUP_NICE);
            assertThat(options.drainTimeout()).isEqualTo(core.drainTimeout());
            assertThat(options.busyTimeout()).isEqualTo(core.busyTimeout());
            assertThat(options.upgradeTimeout()).isEqualTo(Duration.ofSeconds(180)).isGreaterThan(core.upgradeTimeout());
            assertThat(options.allowedPeerUids()).isEqualTo(core.allowedPeerUids());
            assertThat(context.getBean(WebServerDrain.class).idleCloseGrace()).isEqualTo(WebServerDrain.DEFAULT_IDLE_CLOSE_GRACE);
        });
    }

    @Test
    void propertiesBindToTheOptionsAndMetricsGoToTheApplicationsRegistry() throws IOException {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        Path secret = Files.writeString(temp.resolve("secret"), "0123456789abcdef0123");
        Files.setPosixFilePermissions(secret, PosixFilePermissions.fromString("rw-------"));
        runner.withBean(MeterRegistry.class, () -> registry)
                .withPropertyValues(socket(), "handoff.step-timeout=3s",
                        "handoff.ready-timeout=40s", "handoff.probation=50ms", "handoff.startup-nice=4", "handoff.drain-timeout=7s",
                        "handoff.idle-close-grace=250ms", "handoff.allowed-peer-uids=0,1000", "handoff.upgrade-command=/bin/app,--flag",
                        "handoff.upgrade-timeout=9s", "handoff.shared-secret-file=" + secret,
                        "handoff.pid-file=" + temp.resolve("app.pid"),
                        "management.endpoints.jmx.exposure.include=handoff", "spring.jmx.enabled=true")
                .run(context -> {
                    assertThat(context).hasSingleBean(Handoff.class).hasSingleBean(HandoffEndpoint.class)
                            .hasSingleBean(HandoffHealthIndicator.class);
                    HandoffOptions options = context.getBean(HandoffOptions.class);
                    assertThat(options.socketPath()).isEqualTo(temp.resolve("run/a.sock").toAbsolutePath());
                    assertThat(options.stepTimeout()).isEqualTo(Duration.ofSeconds(3));
                    assertThat(options.readyTimeout()).isEqualTo(Duration.ofSeconds(40));
                    assertThat(options.probation()).isEqualTo(Duration.ofMillis(50));
                    assertThat(options.startupNice()).isEqualTo(4);
                    assertThat(options.drainTimeout()).isEqualTo(Duration.ofSeconds(7));
                    assertThat(options.allowedPeerUids()).isEqualTo(Set.of(0L, 1000L));
                    assertThat(options.upgradeCommand()).isEqualTo(List.of("/bin/app", "--flag"));
                    assertThat(options.upgradeTimeout()).isEqualTo(Duration.ofSeconds(9));
                    assertThat(options.hasSharedSecret()).isTrue();
                    assertThat(options.pidFile()).isEqualTo(temp.resolve("app.pid").toAbsolutePath());
                    assertThat(options.meterRegistry()).containsSame(registry);
                    assertThat(context.getBean(WebServerDrain.class).idleCloseGrace()).isEqualTo(Duration.ofMillis(250));
                    Handoff handoff = context.getBean(Handoff.class);
                    assertThat(handoff.generation()).isEqualTo(1);
                    assertThat(handoff.isInherited()).isFalse();
                    assertThat(registry.find("handoff.handoffs").counters()).as("handoff.* meters are registered").isNotEmpty();
                });
    }

    /** A web application warms up by default, with the settings it gives; turned off, or its own, it does not. */
    @Test
    void theRequestPathWarmUpIsOnInWebApplicationsAndBacksOff() {
        WebApplicationContextRunner web = new WebApplicationContextRunner()
                .withConfiguration(AutoConfigurations.of(HandoffAutoConfiguration.class));
        web.withPropertyValues(socket(), "handoff.warm-up.paths=/a,/b", "handoff.warm-up.requests=300",
                "handoff.warm-up.timeout=2s").run(context -> {
                    assertThat(context).hasSingleBean(RequestPathWarmUp.class);
                    HandoffProperties.WarmUp warmUp = context.getBean(HandoffProperties.class).getWarmUp();
                    assertThat(warmUp.getPaths()).containsExactly("/a", "/b");
                    assertThat(warmUp.getRequests()).isEqualTo(300);
                    assertThat(warmUp.getTimeout()).isEqualTo(Duration.ofSeconds(2));
                });
        web.withPropertyValues(socket(), "handoff.warm-up.enabled=false")
                .run(context -> assertThat(context).hasNotFailed().doesNotHaveBean(RequestPathWarmUp.class));
        runner.withPropertyValues(socket()).run(context -> assertThat(context).hasNotFailed()
                .doesNotHaveBean(RequestPathWarmUp.class)); // not a web application
        RequestPathWarmUp own = new RequestPathWarmUp(null, null, List.of(), List.of("/"), 1, Duration.ofSeconds(1));
        web.withPropertyValues(socket()).withBean(RequestPathWarmUp.class, () -> own)
                .run(context -> assertThat(context.getBean(RequestPathWarmUp.class)).isSameAs(own));
    }

    @Test
    void customizersAdjustTheOptionsAfterTheProperties() {
        runner.withPropertyValues(socket(), "handoff.step-timeout=3s")
                .withBean("first", HandoffOptionsCustomizer.class, () -> options -> options.backlog(77).stepTimeout(Duration.ofSeconds(4)))
                .run(context -> {
                    HandoffOptions options = context.getBean(HandoffOptions.class);
                    assertThat(options.backlog()).isEqualTo(77);
                    assertThat(options.stepTimeout()).isEqualTo(Duration.ofSeconds(4));
                    assertThat(options.socketPath()).isEqualTo(temp.resolve("run/a.sock").toAbsolutePath());
                });
    }

    @Test
    void withoutMicrometerOnTheClassPathTheOptionsHaveNoRegistry() {
        runner.withClassLoader(new FilteredClassLoader(MeterRegistry.class))
                .withPropertyValues(socket())
                .run(context -> {
                    assertThat(context).hasNotFailed().hasSingleBean(Handoff.class);
                    assertThat(context.getBean(HandoffOptions.class).meterRegistry()).isEmpty();
                });
    }

    @Test
    void backsOffWhenTheApplicationDefinesItsOwnOptions() {
        HandoffOptions own = HandoffOptions.builder(temp.resolve("own/own.sock")).build();
        runner.withBean("ownOptions", HandoffOptions.class, () -> own)
                .withPropertyValues("handoff.socket=" + temp.resolve("run/ignored.sock"))
                .run(context -> {
                    assertThat(context).getBean(HandoffOptions.class).isSameAs(own);
                    assertThat(context.getBean(Handoff.class).options().socketPath()).isEqualTo(own.socketPath());
                });
    }

    @Test
    void backsOffWhenTheApplicationDefinesItsOwnHandoff() throws Exception {
        try (Handoff own = Handoff.start(HandoffOptions.builder(temp.resolve("own/own.sock")).build())) {
            runner.withBean("ownHandoff", Handoff.class, () -> own)
                    .withPropertyValues("handoff.socket=" + temp.resolve("run/ignored.sock"))
                    .run(context -> assertThat(context).hasSingleBean(Handoff.class)
                            .as("the rest still works with it").hasSingleBean(HandoffCoordinator.class)
                            .getBean(Handoff.class).isSameAs(own));
        }
    }

    @Test
    void theEndpointNeedsExposureAndTheHealthIndicatorCanBeTurnedOff() {
        runner.withPropertyValues(socket(), "management.health.handoff.enabled=false")
                .run(context -> assertThat(context).hasSingleBean(Handoff.class)
                        .doesNotHaveBean(HandoffHealthIndicator.class).doesNotHaveBean(HandoffEndpoint.class));
    }
}
