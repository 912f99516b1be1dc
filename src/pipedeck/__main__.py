from pipedeck.cli import main

main()
