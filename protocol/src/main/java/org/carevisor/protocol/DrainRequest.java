package org.carevisor.protocol;

/**
 * Asks an agent to refuse (true) or accept again (false) VM starts and incoming migrations: the first phase of an
 * orderly site shutdown, undone when the shutdown is cancelled or the site is resumed.
 */
public record DrainRequest(boolean drain) {
}
