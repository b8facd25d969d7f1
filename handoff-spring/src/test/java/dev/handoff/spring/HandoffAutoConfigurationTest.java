package dev.handoff.spring;

import dev.handoff.core.Handoff;
import dev.handoff.core.HandoffOptions;
import dev.handoff.spring.actuate.HandoffActuatorAutoConfiguration;
import dev.handoff.spring.actuate.HandoffEndpoint;
import dev.handoff.spring.actuate.HandoffHealthIndicator;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The auto-configuration in a plain (non-web) context: what it creates, what it binds, when it backs off. */
class HandoffAutoConfigurationTest {

    @TempDir
    Path temp;

    private final ApplicationContextRunner runner = new ApplicationContextRunner()
            .withConfiguration(AutoConfigurations.of(HandoffAutoConfiguration.class, HandoffActuatorAutoConfiguration.class));

    @Test
    void nothingWithoutASocket() {
        runner.run(context -> {
            assertTrue(context.getBeansOfType(Handoff.class).isEmpty());
            assertTrue(context.getBeansOfType(HandoffCoordinator.class).isEmpty());
        });
    }

    @Test
    void aSharedSecretFileOthersCanReadStopsTheStartWithTheFix() throws IOException {
        Path secret = Files.writeString(temp.resolve("open-secret"), "0123456789abcdef0123");
        Files.setPosixFilePermissions(secret, PosixFilePermissions.fromString("rw-r--r--"));
        runner.withPropertyValues("handoff.socket=" + temp.resolve("run/a.sock"), "handoff.shared-secret-file=" + secret)
                .run(context -> {
                    assertTrue(context.getStartupFailure() != null, "the context must not start");
                    Throwable cause = context.getStartupFailure();
                    while (cause.getCause() != null) {
                        cause = cause.getCause();
                    }
                    assertTrue(cause.getMessage().contains("chmod 600"), cause.getMessage());
                });
    }

    @Test
    void nothingWhenDisabled() {
        runner.withPropertyValues("handoff.socket=" + temp.resolve("run/a.sock"), "handoff.enabled=false")
                .run(context -> assertTrue(context.getBeansOfType(Handoff.class).isEmpty()));
    }

    @Test
    void propertiesBindToTheOptionsAndMetricsGoToTheApplicationsRegistry() throws IOException {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        Path secret = Files.writeString(temp.resolve("secret"), "0123456789abcdef0123");
        Files.setPosixFilePermissions(secret, PosixFilePermissions.fromString("rw-------"));
        runner.withBean(MeterRegistry.class, () -> registry)
                .withPropertyValues("handoff.socket=" + temp.resolve("run/a.sock"), "handoff.step-timeout=3s",
                        "handoff.ready-timeout=40s", "handoff.probation=50ms", "handoff.drain-timeout=7s",
                        "handoff.allowed-peer-uids=0,1000", "handoff.upgrade-command=/bin/app,--flag",
                        "handoff.upgrade-timeout=9s", "handoff.shared-secret-file=" + secret,
                        "management.endpoints.jmx.exposure.include=handoff", "spring.jmx.enabled=true")
                .run(context -> {
                    HandoffOptions options = context.getBean(HandoffOptions.class);
                    assertEquals(temp.resolve("run/a.sock").toAbsolutePath(), options.socketPath());
                    assertEquals(Duration.ofSeconds(3), options.stepTimeout());
                    assertEquals(Duration.ofSeconds(40), options.readyTimeout());
                    assertEquals(Duration.ofMillis(50), options.probation());
                    assertEquals(Duration.ofSeconds(7), options.drainTimeout());
                    assertEquals(Set.of(0L, 1000L), options.allowedPeerUids());
                    assertEquals(List.of("/bin/app", "--flag"), options.upgradeCommand());
                    assertEquals(Duration.ofSeconds(9), options.upgradeTimeout());
                    assertTrue(options.hasSharedSecret());
                    assertSame(registry, options.meterRegistry().orElseThrow());
                    Handoff handoff = context.getBean(Handoff.class);
                    assertEquals(1, handoff.generation());
                    assertFalse(handoff.isInherited());
                    assertTrue(registry.find("handoff.handoffs").counters().size() > 0, "handoff.* meters are registered");
                    assertTrue(context.getBeansOfType(HandoffEndpoint.class).size() == 1);
                    assertTrue(context.getBeansOfType(HandoffHealthIndicator.class).size() == 1);
                });
    }

    @Test
    void backsOffWhenTheApplicationDefinesItsOwnOptions() {
        HandoffOptions own = HandoffOptions.builder(temp.resolve("own/own.sock")).build();
        runner.withBean("ownOptions", HandoffOptions.class, () -> own)
                .withPropertyValues("handoff.socket=" + temp.resolve("run/ignored.sock"))
                .run(context -> {
                    assertSame(own, context.getBean(HandoffOptions.class));
                    assertEquals(own.socketPath(), context.getBean(Handoff.class).options().socketPath());
                });
    }

    @Test
    void backsOffWhenTheApplicationDefinesItsOwnHandoff() throws Exception {
        try (Handoff own = Handoff.start(HandoffOptions.builder(temp.resolve("own/own.sock")).build())) {
            runner.withBean("ownHandoff", Handoff.class, () -> own)
                    .withPropertyValues("handoff.socket=" + temp.resolve("run/ignored.sock"))
                    .run(context -> {
                        assertEquals(1, context.getBeansOfType(Handoff.class).size());
                        assertSame(own, context.getBean(Handoff.class));
                        assertTrue(context.getBeansOfType(HandoffCoordinator.class).size() == 1, "the rest still works with it");
                    });
        }
    }

    @Test
    void theHealthIndicatorCanBeTurnedOff() {
        runner.withPropertyValues("handoff.socket=" + temp.resolve("run/a.sock"), "management.health.handoff.enabled=false")
                .run(context -> assertTrue(context.getBeansOfType(HandoffHealthIndicator.class).isEmpty()));
    }

}
