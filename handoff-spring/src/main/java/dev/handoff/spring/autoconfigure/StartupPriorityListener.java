package dev.handoff.spring.autoconfigure;

import dev.handoff.core.service.StartupPriority;
import org.springframework.boot.context.event.ApplicationEnvironmentPreparedEvent;
import org.springframework.boot.context.event.ApplicationStartingEvent;
import org.springframework.boot.context.event.SpringApplicationEvent;
import org.springframework.context.ApplicationListener;
import org.springframework.core.env.Environment;
import org.springframework.core.env.SimpleCommandLinePropertySource;
import org.springframework.core.env.StandardEnvironment;

import java.nio.file.Path;

/**
 * Lowers a successor's priority from the start of {@code SpringApplication.run}, before its environment and
 * its context (most of a Spring application's start-up), rather than from the Handoff bean's start: with
 * {@code handoff.socket} set, Handoff on, and a socket file there (an incumbent, most likely),
 * {@code handoff.startup-nice} steps. At the start only the command line, system properties and environment
 * variables can say so; once the environment is ready (application properties, profiles) it is decided
 * again, and a priority lowered for settings the application's own properties then turn off is restored.
 * The Handoff restores it at READY, or at once when it starts cold.
 */
public final class StartupPriorityListener implements ApplicationListener<SpringApplicationEvent> {

    @Override
    public void onApplicationEvent(SpringApplicationEvent event) {
        if (event instanceof ApplicationStartingEvent starting) {
            StandardEnvironment early = new StandardEnvironment();
            if (starting.getArgs().length > 0) {
                early.getPropertySources().addFirst(new SimpleCommandLinePropertySource(starting.getArgs()));
            }
            try {
                lowerIfWanted(early);
            } catch (RuntimeException e) {
                // A value that does not convert: reported, with the others, once the environment is ready.
            }
        } else if (event instanceof ApplicationEnvironmentPreparedEvent prepared && !lowerIfWanted(prepared.getEnvironment())) {
            StartupPriority.restore();
        }
    }

    /** Lowers the priority if {@code environment} asks for it (a no-op when it is lowered already); whether it does. */
    private static boolean lowerIfWanted(Environment environment) {
        String socket = environment.getProperty("handoff.socket");
        int steps = environment.getProperty("handoff.startup-nice", Integer.class, HandoffProperties.DEFAULT_STARTUP_NICE);
        if (socket == null || !environment.getProperty("handoff.enabled", Boolean.class, true) || steps <= 0) {
            return false;
        }
        StartupPriority.lowerForTakeover(Path.of(socket), steps);
        return true;
    }
}
