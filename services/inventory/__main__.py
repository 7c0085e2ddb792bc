from services.inventory.server import main

main()
