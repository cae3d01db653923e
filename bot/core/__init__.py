"""The vocabulary every other package speaks: statuses, states, job kinds and their allowed
transitions, case references, thread links and platform ids. It imports nothing from the project,
so anything may import it."""
