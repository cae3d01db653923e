"""What the team's work adds up to: the weekly digest, the platform scorecard and the exports."""
