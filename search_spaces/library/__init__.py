"""Tool libraries of the search spaces: modules genome code imports by name (see
``evoforum.genome.library``); each is declared as an ``evoforum.libraries`` entry point."""
