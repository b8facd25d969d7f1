package dev.handoff.spring.autoconfigure;

import dev.handoff.core.service.StartupPriority;
import org.springframework.boot.context.event.ApplicationEnvironmentPreparedEvent;
import org.springframework.context.ApplicationListener;
import org.springframework.core.env.Environment;

import java.nio.file.Path;

/**
 * Lowers a successor's priority as soon as its environment is ready, before its context starts (most of a
 * Spring application's start-up), rather than from the Handoff bean's start: with {@code handoff.socket}
 * set, Handoff on, and a socket file there (an incumbent, most likely), {@code handoff.startup-nice} steps.
 * The Handoff restores it at READY, or at once when it starts cold.
 */
public final class StartupPriorityListener implements ApplicationListener<ApplicationEnvironmentPreparedEvent> {

    @Override
    public void onApplicationEvent(ApplicationEnvironmentPreparedEvent event) {
        Environment environment = event.getEnvironment();
        String socket = environment.getProperty("handoff.socket");
        if (socket != null && environment.getProperty("handoff.enabled", Boolean.class, true)) {
            StartupPriority.lowerForTakeover(Path.of(socket),
                    environment.getProperty("handoff.startup-nice", Integer.class, HandoffProperties.DEFAULT_STARTUP_NICE));
        }
    }
}
