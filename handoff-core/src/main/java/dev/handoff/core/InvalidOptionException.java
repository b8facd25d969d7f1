package dev.handoff.core;

/**
 * A value {@link HandoffOptions.Builder} does not take: a timeout that is not positive, a nice value out of
 * range, an empty set of peer uids. {@link #option()} names the builder method, so that a configuration
 * layer can say which of its own settings it came from.
 */
public class InvalidOptionException extends IllegalArgumentException {

    private final String option;

    InvalidOptionException(String option, String requirement) {
        super(option + " " + requirement);
        this.option = option;
    }

    /** The builder method the value was given to, e.g. {@code startupNice}. */
    public String option() {
        return option;
    }
}
