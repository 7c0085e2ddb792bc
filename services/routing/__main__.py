from services.routing.server import main

main()
