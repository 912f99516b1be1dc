"""pipedeck: a local CI/CD console that runs CodePipeline-style pipelines on your machine."""

__version__ = "0.1.0"
